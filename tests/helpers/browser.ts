import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { DateTime } from 'luxon';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createDatabase, startPostgres, type PostgresCluster } from './postgres.js';
import { startServer, TEST_ADMIN, type RunningServer } from './server.js';
import { ROOT } from './spawn.js';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const WEB_INDEX = path.join(ROOT, 'dist/web/index.html');
export const CLINIC_TZ = 'America/Sao_Paulo';

/**
 * End-to-end files run when Chromium and the built app are there; in CI they always run (a missing browser or
 * build is then a failure, not a silent skip).
 */
export const skipE2e = !process.env.CI && (!existsSync(CHROMIUM) || !existsSync(WEB_INDEX));

/** One headless Chromium per test file (contexts per user are cheap; browsers are not, on two cores). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface User { email: string; senha: string; nome: string }
export interface Seeded { id: string; nome: string }

/** Every slot of the day, all week: a booking, a check-in (2 h before start) and a future slot exist at any hour. */
export const ALL_DAY = [0, 1, 2, 3, 4, 5, 6].map((diaSemana) => ({ diaSemana, inicio: '00:00', fim: '24:00' }));

/** Valid CPFs made from a counter (check digits computed), so seeds never collide. */
export function cpf(n: number): string {
  const base = String(100_000_000 + n * 7919).slice(-9).split('').map(Number);
  if (base.every((d) => d === base[0])) base[8] = (base[8]! + 1) % 10;
  const digit = (digits: number[]) => {
    const sum = digits.reduce((acc, d, i) => acc + d * (digits.length + 1 - i), 0);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  const d1 = digit(base);
  const d2 = digit([...base, d1]);
  return [...base, d1, d2].join('');
}

/** The clinic's calendar date `days` from today (YYYY-MM-DD), as the app's `Data` input holds it. */
export const clinicDate = (days = 0): string => DateTime.now().setZone(CLINIC_TZ).plus({ days }).toISODate()!;

/**
 * A real server process over a temp data directory, with the test admin, a `recepcao` and a `medico` user, and
 * médicos and pacientes created through the API (as an admin would). `restart()` stops it and starts a new
 * process on the same port and data directory (the browser's pages keep their URL).
 */
export class E2eServer {
  users!: { admin: User; recepcao: User; medico: User };
  medicos: Seeded[] = [];
  pacientes: Seeded[] = [];
  private token = '';
  /** Other server processes on the same storage (PostgreSQL), started by {@link another}. */
  private readonly others: RunningServer[] = [];

  private constructor(
    public server: RunningServer,
    readonly dir: string,
    private readonly env: Record<string, string>,
    private readonly cluster?: PostgresCluster,
  ) {}

  get url(): string { return this.server.url; }

  static async start(
    options: { medicos?: number; pacientes?: number; duracaoConsultaMin?: number; horarios?: unknown[]; storage?: 'json' | 'postgres' } = {},
  ): Promise<E2eServer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'agenda-e2e-'));
    const env: Record<string, string> = {
      DATA_DIR: path.join(dir, 'data'), BACKUP_DIR: path.join(dir, 'backups'), REPORTS_DIR: path.join(dir, 'reports'),
      BACKUP_INTERVAL_MIN: '0', FERIADOS_NACIONAIS: 'false', LOG_LEVEL: 'info', CLINIC_TZ,
    };
    // With PostgreSQL: a throwaway cluster of the file's own, stopped by close().
    const cluster = options.storage === 'postgres' ? await startPostgres() : undefined;
    if (cluster) Object.assign(env, { STORAGE: 'postgres', DATABASE_URL: await createDatabase(cluster.url, 'e2e') });
    const e2e = new E2eServer(await startServer(env), dir, env, cluster);
    for (let i = 0; i < (options.medicos ?? 2); i++) {
      const nome = `Dra. Médica ${String.fromCharCode(65 + (i % 26))}${i >= 26 ? i : ''}`;
      const medico = await e2e.api<Seeded>('POST', '/medicos', {
        nome, crm: `${10_000 + i}/SP`, especialidade: i % 2 === 0 ? 'Cardiologia' : 'Pediatria',
        duracaoConsultaMin: options.duracaoConsultaMin ?? 30, horarios: options.horarios ?? ALL_DAY, maxEncaixesDia: 5,
      });
      e2e.medicos.push({ id: medico.id, nome });
    }
    for (let i = 0; i < (options.pacientes ?? 4); i++) {
      const nome = `Paciente ${['Ana', 'Bruno', 'Carla', 'Davi', 'Elisa', 'Fábio'][i % 6]} ${i}`;
      const paciente = await e2e.api<Seeded>('POST', '/pacientes', { nome, cpf: cpf(i + 1), dataNascimento: '1985-03-10' });
      e2e.pacientes.push({ id: paciente.id, nome });
    }
    const senha = 'senha-e2e-segura-1';
    const recepcao = { nome: 'Rita Recepção', email: 'recepcao@teste.local', senha };
    const medico = { nome: 'Usuário Médico', email: 'medico@teste.local', senha };
    await e2e.api('POST', '/usuarios', { ...recepcao, papel: 'recepcao' });
    if (e2e.medicos[0]) await e2e.api('POST', '/usuarios', { ...medico, papel: 'medico', medicoId: e2e.medicos[0].id });
    e2e.users = { admin: { ...TEST_ADMIN, nome: 'Administrador' }, recepcao, medico };
    return e2e;
  }

  /** An API call as the test admin (bearer token; signs in again after a restart if the session is gone). */
  async api<T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const call = () => fetch(`${this.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!this.token) await this.login();
    let res = await call();
    if (res.status === 401) {
      await this.login();
      res = await call();
    }
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${url} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async login(): Promise<void> {
    const res = await fetch(`${this.url}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(TEST_ADMIN),
    });
    if (res.status !== 200) throw new Error(`login do admin falhou: ${res.status} ${await res.text()}`);
    this.token = ((await res.json()) as { token: string }).token;
  }

  /** The médico's slots of a date, from the API (their `inicio` strings are what `data-inicio` holds). */
  async slots(medicoId: string, data: string): Promise<{ inicio: string; fim: string; estado: string }[]> {
    return (await this.api<{ slots: { inicio: string; fim: string; estado: string }[] }>('GET', `/medicos/${medicoId}/agenda?data=${data}`)).slots;
  }

  /** Books through the API (the booking waits for its task) and returns the consulta's id. */
  async agendar(medicoId: string, pacienteId: string, inicio: string): Promise<string> {
    return (await this.api<{ id: string }>('POST', '/consultas/agendar', { medicoId, pacienteId, inicio })).id;
  }

  /** Stops the process, leaving the data directory for {@link start} (same port). */
  async stop(): Promise<void> {
    await this.server.stop();
  }

  /** A new server process on the same port and data directory. */
  async start(): Promise<void> {
    const port = new URL(this.server.url).port;
    this.server = await startServer({ ...this.env, PORT: port });
  }

  /** Another server process on the same storage and its own port (PostgreSQL: several processes, one database). */
  async another(): Promise<RunningServer> {
    if (!this.cluster) throw new Error('another() needs storage: postgres (JSON processes share a data directory, not a live agenda)');
    const server = await startServer(this.env);
    this.others.push(server);
    return server;
  }

  async close(): Promise<void> {
    for (const server of [this.server, ...this.others]) {
      if (server.child.exitCode === null && server.child.signalCode === null) await server.stop();
    }
    await this.cluster?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A browser context for one user (its own cookies), in the clinic's time zone so "today" is the clinic's,
 * at the issue's 1280×800.
 */
export async function userPage(browser: Browser, url: string, user?: User, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, timezoneId: CLINIC_TZ, locale: 'pt-BR' });
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(String(error.stack ?? error)));
  page.on('console', (message) => message.type() === 'error' && errors.push(`console: ${message.text()}`));
  await page.goto(url);
  if (user) await signIn(page, user);
  return { context, page };
}

/** What each page's scripts threw or logged as errors, for {@link pageState}. */
const pageErrors = new WeakMap<Page, string[]>();

/**
 * The page as a failing test should report it: the route, whether the app is inert behind a dialog, the dialogs and
 * headings on screen, and the errors its scripts raised.
 */
export async function pageState(page: Page): Promise<Record<string, unknown>> {
  const seen = await page
    .evaluate(() => {
      const { document: doc, location } = globalThis as unknown as BrowserGlobals;
      const texts = (selector: string) => Array.from(doc.querySelectorAll(selector), (el) => (el.textContent ?? '').trim().slice(0, 80));
      return {
        hash: location.hash,
        inert: doc.getElementById('app')?.inert ?? null,
        dialogs: texts('[role="dialog"] h2'),
        headings: texts('h1'),
        status: texts('[role="status"], [role="alert"]'),
      };
    })
    .catch((error: unknown) => ({ unreadable: String(error) }));
  return { ...seen, errors: pageErrors.get(page) ?? [] };
}

/** Fills `E-mail` and `Senha`, clicks `Entrar`, and waits for the app's main navigation. */
export async function signIn(page: Page, user: User): Promise<void> {
  await page.getByLabel('E-mail', { exact: true }).fill(user.email);
  await page.getByLabel('Senha', { exact: true }).fill(user.senha);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.getByRole('navigation', { name: 'Principal' }).waitFor({ timeout: 15_000 });
}

/** Goes to a date through the day view's `Data` input and waits for the grid of that date. */
export async function showDate(page: Page, data: string): Promise<void> {
  await page.getByLabel('Data', { exact: true }).fill(data);
  await page.locator(`button[data-inicio^="${data}"]`).first().waitFor({ timeout: 15_000 });
}

/** The slot button of a médico at an instant (the API's string). */
export const slot = (page: Page, medicoId: string, inicio: string) =>
  page.locator(`button[data-medico-id="${medicoId}"][data-inicio="${inicio}"]`);

/** The few DOM globals the page functions use (the tests' tsconfig has no DOM lib, and should not). */
export interface BrowserGlobals {
  location: { hash: string };
  document: {
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
    querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null; textContent: string | null }>;
    getElementById(id: string): { inert: boolean } | null;
    activeElement: { getAttribute(name: string): string | null; closest(selector: string): unknown } | null;
  };
}

/** Waits until a slot's `data-estado` is `estado` (Chromium re-checks on each animation frame). */
export async function expectEstado(page: Page, medicoId: string, inicio: string, estado: string, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([m, i, e]) => (globalThis as unknown as BrowserGlobals).document.querySelector(`button[data-medico-id="${m}"][data-inicio="${i}"]`)?.getAttribute('data-estado') === e,
      [medicoId, inicio, estado] as const,
      { timeout },
    );
  } catch (error) {
    const now = await slot(page, medicoId, inicio).getAttribute('data-estado', { timeout: 1000 }).catch(() => 'ausente');
    throw new Error(`horário ${inicio} não ficou "${estado}" em ${timeout} ms (está "${now}")`, { cause: error });
  }
}

/**
 * Runs axe-core on the page as it is now and throws, listing them readably, when any violation has impact
 * `serious` or `critical`. Lesser findings are printed but do not fail (the issue's bar is serious/critical).
 */
export async function checkA11y(page: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const describe = (v: (typeof result.violations)[number]) =>
    `  [${v.impact}] ${v.id}: ${v.help}\n${v.nodes.slice(0, 5).map((n) => `      ${n.target.join(' ')} — ${n.failureSummary?.split('\n').join(' ')}`).join('\n')}`;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.violations.filter((v) => !bad.includes(v));
  if (minor.length) process.stderr.write(`axe (${name}), impacto menor:\n${minor.map(describe).join('\n')}\n`);
  if (bad.length) throw new Error(`axe (${name}): ${bad.length} violação(ões) sérias ou críticas\n${bad.map(describe).join('\n')}`);
}

const SCREENS = path.join(ROOT, 'test-results/screens');

/** Saves `test-results/screens/<name>.png` (every run: the issue asks for them to be looked at). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`), fullPage: false });
}

/** axe and a screenshot of one screen, the pair every screen gets. */
export async function screen(page: Page, name: string): Promise<void> {
  await shot(page, name);
  await checkA11y(page, name);
}

/**
 * The file's server and browser: started before its tests (`ready` receives them), stopped after them.
 * Each end-to-end file has its own, so files do not see each other's bookings.
 */
export function useE2e(options: Parameters<typeof E2eServer.start>[0], ready: (server: E2eServer, browser: Browser) => void): void {
  let server: E2eServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([E2eServer.start(options), launchBrowser()]);
    ready(server, browser);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
}
