/** Starts a task and follows it to its end, for the pages that create backups and reports. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { problemOf, type Problem } from '../../problem.js';
import { pollTask, type Task } from './admin-logic.js';

export interface TaskRun {
  /** The last state seen, or null before the first start. */
  task: Task | null;
  running: boolean;
  problem: Problem | null;
  /** Enqueues (`start` answers the 202's task) and polls until done; resolves with the final task, or null on error. */
  run: (start: () => Promise<Task>) => Promise<Task | null>;
}

export function useTask(): TaskRun {
  const [task, setTask] = useState<Task | null>(null);
  const [running, setRunning] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const abort = useRef<AbortController | null>(null);
  // Leaving the page stops the polling (the task itself goes on in the server).
  useEffect(() => () => abort.current?.abort(), []);

  const run = async (start: () => Promise<Task>): Promise<Task | null> => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    setProblem(null);
    setTask(null);
    try {
      const first = await start();
      return await pollTask(first, {
        signal: controller.signal,
        fetchTask: (id) => api.get<Task>(`/sistema/tasks/${encodeURIComponent(id)}`, { signal: controller.signal }),
        onUpdate: (t) => {
          if (!controller.signal.aborted) setTask(t);
        },
      });
    } catch (error) {
      if (!controller.signal.aborted) setProblem(problemOf(error));
      return null;
    } finally {
      if (!controller.signal.aborted) setRunning(false);
    }
  };

  return { task, running, problem, run };
}
