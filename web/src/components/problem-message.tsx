/**
 * The API's problem as the user reads it: its pt-BR `detail` in an alert, plus the per-field errors that no
 * field of the form shows (those that do are shown by `Field` beside the input).
 */
import { unplacedErrors, type Problem } from '../problem.js';

export function ProblemMessage({ problem, fields = [] }: { problem: Problem | null | undefined; fields?: readonly string[] }) {
  if (!problem) return null;
  const rest = unplacedErrors(problem, fields);
  return (
    <div class="problem" role="alert">
      <p>{problem.detail}</p>
      {rest.length > 0 && (
        <ul>
          {rest.map((e) => (
            <li key={e.path + e.message}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// `Field` lives in field.tsx; re-exported here because the day view's dialogs import it from this module.
export { Field, type FieldProps } from './field.js';
