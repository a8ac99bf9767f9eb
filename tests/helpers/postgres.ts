import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * Throwaway PostgreSQL clusters for tests: `initdb` into a temp folder, `pg_ctl` on a free port of 127.0.0.1,
 * no system service and nothing left behind. Tests that need PostgreSQL start their own cluster (one per test
 * file is enough: `createDatabase` gives each test its own database in it).
 */

const BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;
/** Extensions the schema creates; Debian ships them in `postgresql-15` (contrib is folded in since 10). */
const EXTENSIONS = ['btree_gist', 'pg_trgm'] as const;
/** The role initdb makes the superuser; tests connect as it, trusted on 127.0.0.1 only. */
const SUPERUSER = 'postgres';

export type Availability = { ok: true; binDir: string } | { ok: false; reason: string };

export interface FindOptions {
  /** Folders to look for the binaries in, in order; default: `PG_BINDIR`, `pg_config --bindir`, `/usr/lib/postgresql/<n>/bin`. */
  binDirs?: readonly string[];
}

/** Where PostgreSQL's server binaries may be, best first. */
export function candidateBinDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.PG_BINDIR) dirs.push(process.env.PG_BINDIR);
  try {
    dirs.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // No pg_config on PATH (libpq-dev or postgresql not installed): the versioned folders may still hold a server.
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(path.join(root, v, 'bin'));
  }
  return dirs;
}

/** The share folder (`…/extension/*.control`) that goes with a bin folder, asked of its own `pg_config`. */
function shareDirOf(binDir: string): string | undefined {
  try {
    return execFileSync(path.join(binDir, 'pg_config'), ['--sharedir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    const version = /postgresql\/(\d+)\/bin/.exec(binDir)?.[1];
    return version ? `/usr/share/postgresql/${version}` : undefined;
  }
}

/** True when this process runs as root: initdb refuses to, so the cluster is made and run as `postgres`. */
const isRoot = (): boolean => process.getuid?.() === 0;

function postgresUid(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Whether a throwaway cluster can be started here, and if not, why (in words a developer can act on). */
export function postgresAvailable(options: FindOptions = {}): Availability {
  const dirs = options.binDirs ?? candidateBinDirs();
  const binDir = dirs.find((dir) => BINARIES.every((b) => existsSync(path.join(dir, b))));
  if (!binDir) {
    const looked = dirs.length > 0 ? dirs.join(', ') : 'no candidate folder';
    return { ok: false, reason: `no PostgreSQL server binaries (${BINARIES.join(', ')}) in ${looked}` };
  }
  const share = shareDirOf(binDir);
  const missing = EXTENSIONS.filter((e) => !share || !existsSync(path.join(share, 'extension', `${e}.control`)));
  if (missing.length > 0) return { ok: false, reason: `extensions ${missing.join(', ')} missing next to ${binDir} (postgresql-contrib)` };
  if (isRoot()) {
    if (!postgresUid()) return { ok: false, reason: `running as root and there is no '${SUPERUSER}' user to run initdb as` };
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return { ok: false, reason: 'running as root and runuser is missing' };
  }
  return { ok: true, binDir };
}

/** Reasons already printed: say it once per worker, not once per suite that asks. */
const warned = new Set<string>();

/** What a developer reads when the PostgreSQL suites are skipped. */
export function skipMessage(reason: string): string {
  return `PostgreSQL tests skipped: ${reason}; install Debian's postgresql to run them`;
}

/**
 * For `describe.skipIf(skipWithoutPostgres())`: false when PostgreSQL is here. When it is not, CI fails the
 * file at once (the PostgreSQL suites must run there), and a developer's run says so, loudly and once.
 */
export function skipWithoutPostgres(options: FindOptions = {}): boolean {
  const availability = postgresAvailable(options);
  if (availability.ok) return false;
  if (process.env.CI) throw new Error(`PostgreSQL is required in CI: ${availability.reason}`);
  if (!warned.has(availability.reason)) {
    warned.add(availability.reason);
    // A skipped suite is easy to miss in a green run; this line is the developer's only notice of it.
    // eslint-disable-next-line no-console -- test output, not the app's logs
    console.warn(`\n⚠ ${skipMessage(availability.reason)}\n`);
  }
  return true;
}

export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/agenda`: a database made for the caller. */
  url: string;
  /** The same database over the cluster's Unix socket. */
  socketUrl: string;
  port: number;
  /** The cluster's folder (data, socket, log). */
  dir: string;
  /** Kills the server (`-m immediate`) and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port: what clients see when the database restarts. With
   * `standby`, it comes back as a hot standby (a `standby.signal`, no primary): read-only, as a server that a
   * failover left in recovery.
   */
  restart(options?: { mode?: 'fast' | 'immediate'; standby?: boolean }): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

export interface StartOptions extends FindOptions {
  /** Connections the server accepts; the race tests open a few hundred. */
  maxConnections?: number;
  /** More server settings (`name=value`), e.g. `shared_preload_libraries=pg_stat_statements` for a profile. */
  settings?: readonly string[];
}

/** The command line that runs a PostgreSQL binary: as `postgres` when we are root (initdb and postgres refuse root). */
function pgCommand(binDir: string, command: string, args: string[]): [string, string[]] {
  const file = path.join(binDir, command);
  return isRoot() ? ['runuser', ['-u', SUPERUSER, '--', file, ...args]] : [file, args];
}

/**
 * Runs a PostgreSQL binary to its end. Asynchronously: a test restarting the database under load keeps its
 * own event loop (its clients, its server) running while the database is down.
 */
function runPg(binDir: string, cwd: string, command: string, args: string[]): Promise<void> {
  const [exe, argv] = pgCommand(binDir, command, args);
  return new Promise((resolve, reject) => {
    execFile(exe, argv, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal}): ${stderr || stdout || error.message}`, { cause: error }));
      else resolve();
    });
  });
}

/** A port free on 127.0.0.1 right now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const live = new Set<() => void>();
// A test that throws before `stop()` must not leave a server running after the worker exits.
process.once('exit', () => {
  for (const kill of live) kill();
});

/** Initialises a cluster in a temp folder, starts it on a free port and creates the database `agenda`. */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresCluster> {
  const availability = postgresAvailable(options);
  if (!availability.ok) throw new Error(`PostgreSQL unavailable: ${availability.reason}`);
  const { binDir } = availability;
  const dir = mkdtempSync(path.join(tmpdir(), 'agenda-pg-'));
  if (isRoot()) {
    const owner = postgresUid()!;
    chownSync(dir, owner.uid, owner.gid);
  }
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  // trust on 127.0.0.1 only, for a cluster that lives as long as a test file. --no-sync: initdb's own flush of
  // the template files buys nothing for a throwaway cluster; the server itself runs with fsync on.
  try {
    await runPg(binDir, dir, 'initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let port = 0;
  const serverOptions = (): string =>
    [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${dir}'`,
      `-c max_connections=${options.maxConnections ?? 200}`,
      // Durability stays as in production: the driver's figures and crash tests mean nothing without fsync.
      '-c fsync=on',
      '-c synchronous_commit=on',
      '-c shared_buffers=32MB',
      '-c max_locks_per_transaction=128',
      '-c log_min_messages=warning',
      ...(options.settings ?? []).map((setting) => `-c ${setting}`),
    ].join(' ');
  const start = (): Promise<void> => runPg(binDir, dir, 'pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', serverOptions(), 'start']);
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  // Another process may take the port between our probe and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (error) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`${(error as Error).message}\n--- server log ---\n${log()}`, { cause: error });
      }
    }
  }

  let stopped = false;
  // Synchronous: it also runs from the process's 'exit' hook, where nothing asynchronous gets to run.
  const kill = (): void => {
    const [exe, argv] = pgCommand(binDir, 'pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    spawnSync(exe, argv, { cwd: dir, stdio: 'ignore', timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(kill);

  const base = `postgres://${SUPERUSER}@127.0.0.1:${port}`;
  await createDatabase(`${base}/postgres`, 'agenda');
  return {
    url: `${base}/agenda`,
    socketUrl: `postgres://${SUPERUSER}@localhost:${port}/agenda?host=${encodeURIComponent(dir)}`,
    port,
    dir,
    log,
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(kill);
      kill();
    },
    async restart({ mode = 'fast', standby = false } = {}) {
      await runPg(binDir, dir, 'pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      if (standby) {
        const signal = path.join(data, 'standby.signal');
        writeFileSync(signal, '');
        const owner = isRoot() ? postgresUid() : undefined;
        if (owner) chownSync(signal, owner.uid, owner.gid);
      }
      await start();
    },
  };
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Creates the database `name` in the cluster of `url` and returns its URL. With `template`, it starts as a
 * copy of that database (for example one already migrated: a file copy, faster than migrating again). A
 * template must have no open connections while it is copied.
 */
export async function createDatabase(url: string, name: string, options: { template?: string } = {}): Promise<string> {
  for (const id of [name, options.template ?? name]) if (!IDENTIFIER.test(id)) throw new Error(`database name must be a plain identifier: ${id}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}${options.template ? ` TEMPLATE ${options.template}` : ''}`);
  } finally {
    await client.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
}

/** Runs `fn` with its own connection to `url` as the superuser (the tests' clusters trust `postgres` on 127.0.0.1). */
export async function asSuperuser<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
