/**
 * The API's problem as the user reads it: its pt-BR `detail` in an alert, plus the per-field errors that no
 * field of the form shows (those that do are shown by {@link Field} beside the input).
 */
import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';
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

export interface FieldProps {
  label: string;
  /** Message to show beside the input (from the API or checked as typed). */
  error?: string | undefined;
  hint?: string;
  /** Renders the control with the ids and aria attributes it must carry. */
  children: (attrs: { id: string; 'aria-invalid': 'true' | undefined; 'aria-describedby': string | undefined }) => ComponentChildren;
}

/** A labelled control with its error next to it (`aria-describedby`, `aria-invalid`). */
export function Field({ label, error, hint, children }: FieldProps) {
  const id = useId();
  const errorId = `${id}-erro`;
  const hintId = `${id}-dica`;
  const describedBy = [error ? errorId : '', hint ? hintId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={error ? 'field field-invalid' : 'field'}>
      <label for={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy })}
      {hint && (
        <small id={hintId} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={errorId} class="field-error">
          {error}
        </small>
      )}
    </div>
  );
}
