/**
 * A wide table inside its own horizontal scroll, so a 768-px tablet scrolls the table rather than the whole
 * page. Focusable and named: a scrolling region must be reachable by keyboard (axe `scrollable-region-focusable`).
 */
import type { ComponentChildren } from 'preact';

export function TableScroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
