/** Hash routing: the server only ever serves `index.html` at `/`, so the page lives in `location.hash`. */
import { signal } from '@preact/signals';

export const DEFAULT_PATH = '/agenda';

function currentPath(): string {
  const path = location.hash.replace(/^#/, '').split('?')[0] ?? '';
  return path.startsWith('/') ? path : DEFAULT_PATH;
}

export const routePath = signal(currentPath());

addEventListener('hashchange', () => {
  routePath.value = currentPath();
});

export function navigate(path: string): void {
  location.hash = `#${path}`;
}
