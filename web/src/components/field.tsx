/**
 * A form field as every form of the app writes it: the label, the control, and the message that belongs
 * beside it (checked as typed, or the API problem's `errors[].path` naming the field), tied to the control
 * with `aria-describedby` and `aria-invalid`.
 */
import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useId } from 'preact/hooks';

/** The ids and aria attributes the control inside a {@link Field} must carry. */
export interface FieldControlAttrs {
  id: string;
  'aria-invalid': 'true' | undefined;
  'aria-describedby': string | undefined;
}

export interface FieldProps {
  label: string;
  /** Message to show beside the input (from the API or checked as typed). */
  error?: string | undefined;
  hint?: string | undefined;
  /** Renders the control with the ids and aria attributes it must carry. */
  children: (attrs: FieldControlAttrs) => ComponentChildren;
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

/** The input attributes the app's forms set; a closed list keeps the input's aria and ids the Field's. */
export interface InputFieldProps {
  label: string;
  value: string;
  /** Called with the input's text on every keystroke. */
  onValue: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
  type?: 'text' | 'search' | 'email' | 'tel' | 'password' | 'date' | 'time' | 'number';
  required?: boolean;
  autoComplete?: string;
  inputMode?: 'numeric' | 'text' | 'tel' | 'email';
  min?: number | string;
  max?: number | string;
  /** Id of a `<datalist>` of suggestions. */
  list?: string;
  spellcheck?: boolean;
}

/**
 * The common case of {@link Field}: a plain `<input>` bound to a string. The other attributes (`type`, `min`,
 * `required`, `autoComplete`…) go to the input as they are.
 */
export function InputField({ label, value, onValue, error, hint, ...input }: InputFieldProps) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(a) => {
        // Preact types <input> as a union keyed by `type` (which roles and `list` each type allows); `input`
        // holds only plain attributes valid for every type listed in InputFieldProps, so widening is safe.
        const attrs = { ...input, ...a } as InputHTMLAttributes<HTMLInputElement>;
        return <input {...attrs} value={value} onInput={(e) => onValue(e.currentTarget.value)} />;
      }}
    </Field>
  );
}

export interface SelectOption {
  value: string;
  label: string;
}

export interface SelectFieldProps {
  label: string;
  value: string;
  onValue: (value: string) => void;
  options: readonly SelectOption[];
  /** A first option with the empty value (`Todos`, `Selecione…`); omitted, a value must be chosen. */
  emptyLabel?: string;
  error?: string | undefined;
  hint?: string | undefined;
  required?: boolean;
  disabled?: boolean;
}

/** {@link Field} around a `<select>` of plain options. */
export function SelectField({ label, value, onValue, options, emptyLabel, error, hint, required, disabled }: SelectFieldProps) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(a) => (
        <select {...a} value={value} required={required} disabled={disabled} onChange={(e) => onValue(e.currentTarget.value)}>
          {emptyLabel !== undefined && <option value="">{emptyLabel}</option>}
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
