/**
 * A modal dialog: `role="dialog"`, `aria-modal`, named by its heading. While open the rest of the app is
 * `inert` (no tab stop, no click, hidden from assistive tech), Tab cycles inside it, Escape closes it, and
 * focus goes back to whatever opened it.
 */
import type { ComponentChildren } from 'preact';
import { createPortal } from 'preact/compat';
import { useEffect, useId, useRef } from 'preact/hooks';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Dialogs open now, innermost last: only the innermost handles Escape. */
const openStack: HTMLElement[] = [];

export interface DialogProps {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Wider dialog for lists (remarcar, waiting list). */
  wide?: boolean;
}

export function Dialog({ title, onClose, children, wide }: DialogProps) {
  const ref = useRef<HTMLDivElement>(null);
  const headingId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const appRoot = document.getElementById('app');
    openStack.push(dialog);
    if (appRoot) appRoot.inert = true;
    const first = dialog.querySelector<HTMLElement>('[autofocus], input, select, textarea') ?? dialog.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? dialog).focus();

    const onKey = (event: KeyboardEvent) => {
      if (openStack[openStack.length - 1] !== dialog) return;
      if (event.key === 'Escape') {
        event.preventDefault();
        onCloseRef.current();
      } else if (event.key === 'Tab') {
        const items = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
        if (items.length === 0) return event.preventDefault();
        const firstItem = items[0]!;
        const lastItem = items[items.length - 1]!;
        if (event.shiftKey && (document.activeElement === firstItem || !dialog.contains(document.activeElement))) {
          event.preventDefault();
          lastItem.focus();
        } else if (!event.shiftKey && (document.activeElement === lastItem || !dialog.contains(document.activeElement))) {
          event.preventDefault();
          firstItem.focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      openStack.splice(openStack.indexOf(dialog), 1);
      if (appRoot && openStack.length === 0) appRoot.inert = false;
      // The opener may have been re-rendered away (a slot that changed state): fall back to its twin by data-*.
      // A re-render of the page in the same frame can still take focus away: then try once more a frame later.
      const returnFocus = () => {
        const target = opener?.isConnected
          ? opener
          : opener?.dataset['inicio']
            ? document.querySelector<HTMLElement>(`[data-medico-id="${opener.dataset['medicoId']}"][data-inicio="${opener.dataset['inicio']}"]`)
            : null;
        target?.focus();
        return !target || document.activeElement === target;
      };
      if (!returnFocus()) requestAnimationFrame(() => void returnFocus());
    };
  }, []);

  return createPortal(
    <div class="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div ref={ref} class={wide ? 'dialog dialog-wide' : 'dialog'} role="dialog" aria-modal="true" aria-labelledby={headingId} tabIndex={-1}>
        <header class="dialog-header">
          <h2 id={headingId}>{title}</h2>
          <button type="button" class="icon-button" aria-label="Fechar" onClick={onClose}>
            ×
          </button>
        </header>
        <div class="dialog-body">{children}</div>
      </div>
    </div>,
    document.body,
  );
}
