import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The only module that reads `process.env`. Every variable of the contract's Configuration section is
 * parsed here once, at boot; a bad value stops the start with a message naming the variable.
 */

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'use true ou false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const isValidTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const EnvSchema = z.object({
  PORT: intFromEnv(0, 65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  // Where records live: the data directory's JSON files (one machine) or a PostgreSQL database (many processes).
  STORAGE: z.enum(['json', 'postgres']).default('json'),
  DATABASE_URL: z
    .string()
    .refine((url) => /^postgres(ql)?:\/\//.test(url), 'use uma URL postgres://usuario:senha@host:porta/banco')
    .optional(),
  BACKUP_DIR: z.string().min(1).default('./backups'),
  REPORTS_DIR: z.string().min(1).default('./reports'),
  CLINIC_TZ: z.string().refine(isValidTimeZone, 'fuso horário IANA desconhecido').default('America/Sao_Paulo'),
  CLINIC_NAME: z.string().min(1).max(200).default('Clínica Agenda Médica'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Minutes; fractions are allowed (tests use a fraction of a second).
  BACKUP_INTERVAL_MIN: z.coerce.number().min(0).max(7 * 24 * 60).default(60),
  BACKUP_KEEP: intFromEnv(1, 10_000).default(20),
  SSE_HEARTBEAT_MS: intFromEnv(100, 3_600_000).default(15_000),
  SSE_REPLAY: intFromEnv(1, 1_000_000).default(1000),
  SEED: booleanFromEnv.default(true),
  /** Not in the contract's list: how old a lock must be before it counts as left by a dead process. */
  LOCK_STALE_MS: intFromEnv(2000, 600_000).default(5000),
  NODE_ENV: z.string().default('production'),
  // ---- v2: access control, audit, hardening ----
  ADMIN_EMAIL: z.email({ message: 'e-mail inválido' }).default('admin@clinica.local'),
  ADMIN_SENHA: z.string().min(10, 'a senha precisa de ao menos 10 caracteres').max(200).optional(),
  SESSION_TTL_MIN: intFromEnv(1, 60 * 24 * 90).default(720),
  COOKIE_SECURE: booleanFromEnv.default(false),
  CORS_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), 'use origens exatas separadas por vírgula (https://host:porta)')
    .default([]),
  SSE_MAX_CLIENTS: intFromEnv(1, 100_000).default(2000),
  /** Not in the contract's list (which pins 20): event streams one session may hold; tests that open many raise it. */
  SSE_MAX_PER_SESSION: intFromEnv(1, 100_000).default(20),
  /**
   * Not in the contract's list either: event streams one user may hold over all their sessions. Unset, 60 or
   * SSE_MAX_PER_SESSION if that was raised above it (a wall screen's session must keep what it had).
   */
  SSE_MAX_PER_USER: intFromEnv(1, 100_000).optional(),
  BACKUP_KEY: z
    .string()
    .transform((v, ctx) => {
      const key = decodeKey(v);
      if (!key) ctx.addIssue({ code: 'custom', message: 'a chave precisa de 32 bytes, em base64 ou hex' });
      return key ?? Buffer.alloc(0);
    })
    .optional(),
  WRITE_RATE_LIMIT: intFromEnv(0, 1_000_000).default(300),
  REPORTS_KEEP: intFromEnv(1, 10_000).default(50),
  // ---- v2: front desk ----
  FERIADOS_NACIONAIS: booleanFromEnv.default(true),
  AGENDA_HORIZONTE_DIAS: intFromEnv(1, 3650).default(365),
  /** Not in the contract's list: the clinic's state (UF), whose state holidays then block slots too. */
  CLINIC_UF: z.string().trim().toUpperCase().regex(/^[A-Z]{2}$/, 'use a sigla da UF (ex.: SP)').optional(),
});

/** A 32-byte key written as 64 hex digits or as base64; undefined when it is neither. */
function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** The storage driver (`STORAGE`): `json` (default) or `postgres` (needs `DATABASE_URL`). */
  readonly storage: 'json' | 'postgres';
  readonly databaseUrl: string | undefined;
  readonly backupDir: string;
  readonly reportsDir: string;
  readonly clinicTz: string;
  readonly clinicName: string;
  readonly logLevel: string;
  readonly backupIntervalMin: number;
  readonly backupKeep: number;
  readonly sseHeartbeatMs: number;
  readonly sseReplay: number;
  readonly seed: boolean;
  readonly lockStaleMs: number;
  readonly prettyLogs: boolean;
  /** Largest accepted JSON body, in bytes. */
  readonly bodyLimitBytes: number;
  readonly adminEmail: string;
  /** Password of the first admin; undefined means "generate one and print it once". */
  readonly adminSenha: string | undefined;
  readonly sessionTtlMin: number;
  readonly cookieSecure: boolean;
  /** Exact origins allowed to call the API from a browser (CORS, and the CSRF check). */
  readonly corsOrigins: readonly string[];
  readonly sseMaxClients: number;
  /** Event streams one session may hold open at once. */
  readonly sseMaxPerSession: number;
  /** Event streams one user may hold open at once, over all their sessions. */
  readonly sseMaxPerUser: number;
  /** AES-256 key for backups; undefined means backups are written in clear. */
  readonly backupKey: Buffer | undefined;
  /** Writes per minute per session; 0 turns the limit off. */
  readonly writeRateLimit: number;
  readonly reportsKeep: number;
  /** Brazil's national holidays block slots (and are listed by GET /feriados). */
  readonly feriadosNacionais: boolean;
  /** Bookings may start at most this many days ahead (further → 422). */
  readonly agendaHorizonteDias: number;
  /** The clinic's UF, for state holidays; undefined: none. */
  readonly clinicUf: string | undefined;
}

/** Raised when the environment holds a value the server cannot start with. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses an environment (default `process.env`) into a frozen {@link Config}. Throws {@link ConfigError}. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in EnvSchema.shape && value !== undefined && value !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `  ${name}=${JSON.stringify(env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`configuração inválida:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.STORAGE === 'postgres' && !e.DATABASE_URL) {
    throw new ConfigError('configuração inválida:\n  DATABASE_URL: obrigatória com STORAGE=postgres');
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(cwd, e.DATA_DIR),
    storage: e.STORAGE,
    databaseUrl: e.DATABASE_URL,
    backupDir: path.resolve(cwd, e.BACKUP_DIR),
    reportsDir: path.resolve(cwd, e.REPORTS_DIR),
    clinicTz: e.CLINIC_TZ,
    clinicName: e.CLINIC_NAME,
    logLevel: e.LOG_LEVEL,
    backupIntervalMin: e.BACKUP_INTERVAL_MIN,
    backupKeep: e.BACKUP_KEEP,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    sseReplay: e.SSE_REPLAY,
    seed: e.SEED,
    lockStaleMs: e.LOCK_STALE_MS,
    prettyLogs: e.NODE_ENV === 'development',
    bodyLimitBytes: 100 * 1024,
    adminEmail: e.ADMIN_EMAIL.toLowerCase(),
    adminSenha: e.ADMIN_SENHA,
    sessionTtlMin: e.SESSION_TTL_MIN,
    cookieSecure: e.COOKIE_SECURE,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    sseMaxClients: e.SSE_MAX_CLIENTS,
    sseMaxPerSession: e.SSE_MAX_PER_SESSION,
    sseMaxPerUser: e.SSE_MAX_PER_USER ?? Math.max(60, e.SSE_MAX_PER_SESSION),
    backupKey: e.BACKUP_KEY,
    writeRateLimit: e.WRITE_RATE_LIMIT,
    reportsKeep: e.REPORTS_KEEP,
    feriadosNacionais: e.FERIADOS_NACIONAIS,
    agendaHorizonteDias: e.AGENDA_HORIZONTE_DIAS,
    clinicUf: e.CLINIC_UF,
  });
}

/** Creates the data, backup and report directories if they are missing. */
export function ensureDirectories(config: Config): void {
  for (const dir of [config.dataDir, config.backupDir, config.reportsDir]) {
    mkdirSync(dir, { recursive: true });
  }
}
