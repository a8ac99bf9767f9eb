/** A running task as the user sees it: a labelled progress bar (indeterminate until it reports a percentage) and its state in words. */
import { progressValue, taskStatusText, type Task } from './admin-logic.js';

export function TaskProgress({ task, label }: { task: Task; label: string }) {
  const value = progressValue(task);
  return (
    <div class="task-progress">
      {/* A native <progress> is role="progressbar"; with a value it carries aria-valuenow, without one it is indeterminate. */}
      <progress aria-label={label} max={100} value={value} />
      <span role="status">{taskStatusText(task)}</span>
    </div>
  );
}
