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

/**
 * A table's header row: one column heading per name, and with `actions` a last column for the row's buttons,
 * named for screen readers only (its cells speak for themselves).
 */
export function TableHead({ columns, actions = false }: { columns: readonly string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {actions && (
          <th scope="col">
            <span class="visually-hidden">Ações</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
