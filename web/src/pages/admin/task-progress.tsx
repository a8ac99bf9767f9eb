/**
 * A task as the user follows it: a labelled progress bar while it runs (indeterminate until it reports a
 * percentage), gone once it ends; and its state in words, then its outcome, in a `role="status"` line that is
 * always there, so screen readers announce the change (a live region added with its text is often not read).
 */
import { progressValue, taskFinished, taskStatusText } from './admin-logic.js';
import type { TaskRun } from './use-task.js';

export function TaskProgress({ run, label, doneText }: { run: TaskRun; label: string; doneText?: string | undefined }) {
  const { task, running } = run;
  // `running` too: a poll cut short by an error leaves the last state unfinished, and the bar must not stay.
  const inProgress = running && task !== null && !taskFinished(task);
  const text = task === null ? '' : task.status === 'concluida' && doneText ? doneText : taskStatusText(task);
  return (
    <div class={inProgress ? 'task-progress' : 'task-progress task-ended'}>
      {/* A native <progress> is role="progressbar"; with a value it carries aria-valuenow, without one it is indeterminate. */}
      {inProgress && <progress aria-label={label} max={100} value={progressValue(task)} />}
      <span role="status">{text}</span>
    </div>
  );
}
