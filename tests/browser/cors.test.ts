import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { email: 'admin@clinica.local', senha: 'senha-do-teste-cors' };

/**
 * A blank page served from its own origin: the stand-in for a web app's dev server on another port. The test
 * drives it with `page.evaluate`, so all it needs is to be a real document of that origin.
 */
async function servePage(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A date three days ahead in São Paulo (the server runs on the real clock), at 09:00, a slot start. */
function futureSlot(): string {
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Sao_Paulo' }).format(new Date(Date.now() + 3 * 86_400_000));
  return `${date}T09:00:00-03:00`; // São Paulo has had no DST since 2019
}

/**
 * Opens an `EventSource` with credentials in the page, collecting agenda events into `window.__events` (spelled
 * `globalThis` here: the project compiles without the DOM lib).
 */
async function openStream(page: Page, api: string): Promise<void> {
  await page.evaluate((url) => {
    const w = globalThis as unknown as { __events: { type: string; data: unknown }[]; __source: EventSource; __error: boolean };
    w.__events = [];
    w.__error = false;
    const source = new EventSource(url, { withCredentials: true });
    for (const type of ['horario_reservado', 'horario_ocupado', 'horario_disponivel']) {
      source.addEventListener(type, (e) => w.__events.push({ type, data: JSON.parse((e as MessageEvent).data) }));
    }
    source.onerror = () => (w.__error = true);
    w.__source = source;
  }, `${api}/sistema/agenda/stream`);
}

/**
 * Issue 9's browser case. The page and the API are on `localhost` with different ports: different origins, same
 * site, which is the "front-end dev server on another port" setup. That is also why the `SameSite=Lax` cookie
 * travels at all; a truly cross-site front end would need `SameSite=None; Secure` (HTTPS), out of scope here.
 */
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('CORS and the session cookie in a real browser', () => {
  it('when a page on a CORS_ORIGINS origin signs in with credentials, then its EventSource receives agenda events, and unlisted origins get nothing', async () => {
    const allowedPage = await servePage();
    const unlistedPage = await servePage();
    const allowed = `http://localhost:${allowedPage.port}`;
    const dataDir = tempDir('agenda-cors-');
    const server = await startServer({
      DATA_DIR: dataDir, BACKUP_DIR: `${dataDir}/b`, REPORTS_DIR: `${dataDir}/r`, LOG_LEVEL: 'info',
      ADMIN_EMAIL: ADMIN.email, ADMIN_SENHA: ADMIN.senha, CORS_ORIGINS: allowed,
    });
    const api = server.url.replace('127.0.0.1', 'localhost');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      // One browser context: the unlisted pages below share the cookie jar where the allowed page's session lives.
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(allowed);
      const login = await page.evaluate(async ({ api, credentials }) => {
        const res = await fetch(`${api}/auth/login`, {
          method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials),
        });
        return { status: res.status, body: (await res.json()) as { usuario: { papel: string } } };
      }, { api, credentials: ADMIN });
      expect(login.status).toBe(200);
      expect(login.body.usuario.papel).toBe('admin');
      expect((await context.cookies(api)).map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['sessao', true, 'Lax']]);
      await openStream(page, api);
      await page.waitForFunction(() => (globalThis as unknown as { __source: EventSource }).__source.readyState === EventSource.OPEN);

      // Unlisted: the same site on another port (the cookie is sent: only CORS and the origin guard stand in the
      // way), and another site altogether.
      const unlisted: Page[] = [];
      for (const origin of [`http://localhost:${unlistedPage.port}`, `http://127.0.0.1:${unlistedPage.port}`]) {
        const other = await context.newPage();
        await other.goto(origin);
        const attempts = await other.evaluate(async ({ api, credentials }) => {
          const outcome = (p: Promise<Response>) => p.then((r) => `status ${r.status}`, (e: Error) => e.name);
          return {
            // JSON needs a preflight, which gets no CORS headers: the POST is never sent.
            login: await outcome(fetch(`${api}/auth/login`, {
              method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials),
            })),
            // A bodiless POST needs no preflight: it reaches the server (with the cookie, from the same site), which
            // must refuse it; the browser then hides the answer.
            logout: await outcome(fetch(`${api}/auth/logout`, { method: 'POST', credentials: 'include' })),
            session: await outcome(fetch(`${api}/auth/sessao`, { credentials: 'include' })),
          };
        }, { api, credentials: ADMIN });
        expect(attempts, origin).toEqual({ login: 'TypeError', logout: 'TypeError', session: 'TypeError' });
        await openStream(other, api);
        await other.waitForFunction(() => (globalThis as unknown as { __error: boolean }).__error);
        // Closed, not reconnecting: a CORS failure ends an EventSource for good.
        expect(await other.evaluate(() => (globalThis as unknown as { __source: EventSource }).__source.readyState), origin).toBe(2);
        unlisted.push(other);
      }

      // The server refused both bodiless logouts; the allowed page's session is intact.
      const logouts = server.logs.filter((l) => l.msg === 'requisição' && l.path === '/auth/logout');
      expect(logouts.map((l) => l.status)).toEqual([403, 403]);
      expect(await page.evaluate(async (api) => (await fetch(`${api}/auth/sessao`, { credentials: 'include' })).status, api)).toBe(200);

      // Book from the Node side with a bearer session of its own.
      const token = ((await (await post(`${server.url}/auth/login`, ADMIN)).json()) as { token: string }).token;
      const headers = { Authorization: `Bearer ${token}` };
      const horarios = [0, 1, 2, 3, 4, 5, 6].map((diaSemana) => ({ diaSemana, inicio: '09:00', fim: '10:00' }));
      const medico = (await (await post(`${server.url}/medicos`, medicoBody({ horarios }), headers)).json()) as { id: string };
      const paciente = (await (await post(`${server.url}/pacientes`, pacienteBody(), headers)).json()) as { id: string };
      const inicio = futureSlot();
      const booked = await post(`${server.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: paciente.id, inicio }, headers);
      expect(booked.status).toBe(201);
      const consulta = (await booked.json()) as { id: string };

      await page.waitForFunction(
        () => (globalThis as unknown as { __events: { type: string }[] }).__events.some((e) => e.type === 'horario_ocupado'),
        undefined, { timeout: 10_000 },
      );
      const events = await page.evaluate(() => (globalThis as unknown as { __events: unknown[] }).__events);
      expect(events).toContainEqual({
        type: 'horario_ocupado',
        data: { medicoId: medico.id, inicio, fim: inicio.replace('T09:00', 'T09:30'), estado: 'ocupado', consultaId: consulta.id },
      });
      for (const other of unlisted) expect(await other.evaluate(() => (globalThis as unknown as { __events: unknown[] }).__events)).toEqual([]);
    } finally {
      await browser.close();
      await server.stop();
      await allowedPage.close();
      await unlistedPage.close();
    }
  }, 60_000);
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
