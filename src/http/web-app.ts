import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { AppError } from '../core/errors.js';
import { sendProblem } from './problem.js';

/**
 * Where `npm run build` puts the web app: `dist/web` beside `src/` when running from source (tsx, vitest),
 * `web/` beside `src/` when running the compiled `dist/src/app.js` (then `dist/` is the parent).
 */
export function defaultWebDir(): string {
  const parent = fileURLToPath(new URL('../..', import.meta.url));
  return basename(parent) === 'dist' ? join(parent, 'web') : join(parent, 'dist', 'web');
}

/**
 * Serves the reception web app: `GET /` is `index.html` (never cached, so a new build is seen at once) and
 * `/assets/*` the bundle (file names carry a content hash: cached for a year, immutable). Without a build the
 * page answers a 503 problem saying how to build it, instead of a blank page or a crash.
 */
export function webApp(webDir: string = defaultWebDir()): Router {
  const router = express.Router();
  const indexFile = join(webDir, 'index.html');
  router.get('/', (_req, res) => {
    if (!existsSync(indexFile)) {
      // Sent here, not thrown: the error middleware would log every visit as a server error, and this is a
      // deployment state of this one page. No `instance`, as before (the page has one path).
      sendProblem(res, new AppError('APP_WEB_AUSENTE', 'O aplicativo web não foi compilado neste servidor. Rode `npm run build` e reinicie o servidor.'));
      return;
    }
    res.set('Cache-Control', 'no-cache');
    res.sendFile(indexFile);
  });
  router.use(
    '/assets',
    express.static(join(webDir, 'assets'), { immutable: true, maxAge: '365d', index: false, redirect: false, fallthrough: true }),
  );
  return router;
}
