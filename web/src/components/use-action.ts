/**
 * The state every form that calls the API keeps: whether a call is under way (buttons disabled meanwhile) and
 * the problem of the last one, shown by `ProblemMessage` and beside the fields it names.
 */
import { useState } from 'preact/hooks';
import { problemOf, type Problem } from '../problem.js';

export interface Action {
  busy: boolean;
  problem: Problem | null;
  /** Runs `call`: clears the last problem, keeps `busy` while it runs, and keeps its problem if it fails. True when it succeeded. */
  run: (call: () => Promise<unknown>) => Promise<boolean>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = async (call: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await call();
      return true;
    } catch (error) {
      setProblem(problemOf(error));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, run };
}
