import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The reception web app (`web/`) is built into `dist/web`, which the API server serves at `/`. Hashed file
 * names under `/assets/` let the server cache them for a year; `index.html` is never cached.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: '/',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // The CSP allows only the app's own scripts: never inline the module-preload polyfill into index.html.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev` (the API) + `npx vite` (this app, with hot reload): API paths are proxied so the session
    // cookie and the EventSource stay same-origin, as in production.
    proxy: Object.fromEntries(
      ['/auth', '/usuarios', '/medicos', '/pacientes', '/consultas', '/bloqueios', '/feriados', '/lista-espera', '/horarios-livres', '/sistema'].map(
        (path) => [path, process.env['API_URL'] ?? 'http://localhost:8000'],
      ),
    ),
  },
});
