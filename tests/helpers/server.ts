import type { ChildProcess } from 'node:child_process';
import { exited, onLines, spawnTs } from './spawn.js';

export interface RunningServer {
  child: ChildProcess;
  url: string;
  /** Every log line the server printed, parsed. */
  logs: Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The first admin of test servers (created on first start from ADMIN_EMAIL / ADMIN_SENHA). */
export const TEST_ADMIN = { email: 'admin@teste.local', senha: 'senha-de-teste-123' };

/**
 * Load tests book hundreds of times a minute on one session: the write limit is tested on its own. They run on
 * the real clock and book years ahead (never in the past): the booking horizon is widened for them, and is
 * tested on its own too.
 */
const TEST_SERVER_ENV = {
  PORT: '0', HOST: '127.0.0.1', SEED: 'false', ADMIN_EMAIL: TEST_ADMIN.email, ADMIN_SENHA: TEST_ADMIN.senha, WRITE_RATE_LIMIT: '0',
  AGENDA_HORIZONTE_DIAS: '3650',
};

const tokens = new Map<string, Promise<string>>();

/** Signs in as the test admin on the server at `origin` (once per origin) and returns the bearer token. */
export function tokenFor(origin: string): Promise<string> {
  let token = tokens.get(origin);
  if (!token) {
    token = fetch(`${origin}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TEST_ADMIN),
    }).then(async (res) => {
      if (res.status !== 200) throw new Error(`login em ${origin} falhou: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    });
    token.catch(() => tokens.delete(origin));
    tokens.set(origin, token);
  }
  return token;
}

/** `fetch` signed in as the test admin (for tests of features against server processes). */
export async function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const token = await tokenFor(new URL(url).origin);
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  return fetch(url, { ...init, headers });
}

/**
 * Starts `src/server.ts` in its own process on a free port and waits for its "ready" log line. With
 * `cluster: true`, starts `src/cluster.ts` instead (WORKERS processes behind one port) and waits until all
 * workers listen.
 */
export async function startServer(env: Record<string, string>, options: { cluster?: boolean } = {}): Promise<RunningServer> {
  const child = spawnTs(options.cluster ? 'src/cluster.ts' : 'src/server.ts', [], { ...TEST_SERVER_ENV, ...env });
  let port: number | undefined;
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    onLines(child, (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'servidor pronto') port = entry.port as number;
        if (options.cluster ? entry.msg === 'processos do servidor prontos' : entry.msg === 'servidor pronto') resolve();
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before ready: ${stderr}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port!}`,
    logs,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited(child);
    },
  };
}

/** Runs the server expecting it to refuse to start; resolves with its exit code and stderr. */
export async function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawnTs('src/server.ts', [], { ...TEST_SERVER_ENV, ...env });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { code } = await exited(child);
  return { code, stderr };
}
