import { pino, type Logger, type DestinationStream, type StreamEntry } from 'pino';

export type { Logger } from 'pino';

/** Personal data that must never reach a log line, at the top level or one object deep. */
const PERSONAL_FIELDS = ['cpf', 'email', 'telefone', 'nome', 'dataNascimento', 'paciente', 'observacoes', 'senha', 'senhaAtual', 'novaSenha', 'senhaHash', 'token'];
export const REDACT_PATHS = [...PERSONAL_FIELDS, ...PERSONAL_FIELDS.map((field) => `*.${field}`)];

/**
 * Fields for a line that must reach the console and nowhere else: a password shown once to whoever starts the server.
 * The in-memory buffer (and so `/sistema/logs` and its stream, which any admin reads, now or later) skips it.
 */
export const CONSOLE_ONLY = { apenasConsole: true } as const;

/** One parsed log line kept in memory for `/sistema/logs`. */
export interface LogEntry {
  time: number;
  level: number;
  msg: string;
  [key: string]: unknown;
}

/**
 * A bounded ring of recent log entries. Memory stays flat however long the server runs: the oldest
 * entry is overwritten once `capacity` is reached.
 */
export class LogBuffer implements DestinationStream {
  private readonly entries: (LogEntry | undefined)[];
  private next = 0;
  private size = 0;
  private readonly listeners = new Set<(entry: LogEntry) => void>();

  constructor(readonly capacity = 2000) {
    this.entries = new Array<LogEntry | undefined>(capacity);
  }

  write(line: string): void {
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      return;
    }
    if (entry['apenasConsole'] === CONSOLE_ONLY.apenasConsole) return;
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    for (const listener of this.listeners) listener(entry);
  }

  /** Entries from oldest to newest. */
  list(): LogEntry[] {
    const out: LogEntry[] = [];
    const start = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) {
      const entry = this.entries[(start + i) % this.capacity];
      if (entry) out.push(entry);
    }
    return out;
  }

  /** Calls `listener` for every new entry until the returned function is called. */
  subscribe(listener: (entry: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  buffer: LogBuffer;
  /** Where lines go besides the buffer; stdout by default. Tests pass a capture stream. */
  destination?: DestinationStream;
}

/**
 * pino's error serializer, keeping only the error's own plain fields (message, code, SQLSTATE detail, …) and its
 * causes. Libraries hang whole objects on errors: pg-pool sets `err.client`, a connection with its parameters,
 * type tables and the backend's cancel key (`secretKey`), about 3 kB per line, into every admin's log view.
 */
export function serializeError(error: Error): Record<string, unknown> {
  return plainFields(pino.stdSerializers.err(error) as unknown as Record<string, unknown>);
}

/** `serialized` without object-valued fields, its causes (serialized errors themselves) cleaned the same way. */
function plainFields(serialized: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(serialized)) {
    if (value === null || typeof value !== 'object') continue;
    if (key === 'cause') serialized[key] = plainFields(value as Record<string, unknown>);
    else if (key === 'aggregateErrors' && Array.isArray(value)) serialized[key] = value.map((e) => plainFields(e as Record<string, unknown>));
    else delete serialized[key];
  }
  return serialized;
}

/**
 * What a warning says of an expected failure's causes (a 503: the database away, the disk full), outermost first,
 * at most five: each one's message and `code`. An `AggregateError` (Node 20's refused connection to a host name
 * with two addresses has an empty message) is told by its errors' messages. Messages only, never a stack or a
 * library's objects.
 */
export function causesOf(error: unknown): string[] {
  const causes: string[] = [];
  for (let cause = (error as { cause?: unknown } | null)?.cause; cause != null && causes.length < 5; cause = (cause as { cause?: unknown }).cause) {
    causes.push(describeCause(cause));
  }
  return causes;
}

function describeCause(cause: unknown): string {
  const { message, code, errors } = cause as { message?: unknown; code?: unknown; errors?: unknown };
  let text = typeof message === 'string' && message !== '' ? message : '';
  if (text === '' && Array.isArray(errors)) text = errors.map((e) => String((e as { message?: unknown } | null)?.message ?? e)).join('; ');
  if (text === '') text = String(cause);
  return typeof code === 'string' || typeof code === 'number' ? `${text} (${code})` : text;
}

/** Builds the root logger: JSON (or pretty in development) to stdout, and a copy into the buffer. */
export async function createLogger(options: LoggerOptions): Promise<Logger> {
  let out: DestinationStream = options.destination ?? pino.destination({ dest: 1, sync: false });
  if (options.pretty && !options.destination) {
    // pino-pretty is a dev dependency: only the `dev` script asks for it.
    const { default: pretty } = await import('pino-pretty');
    out = pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' });
  }
  const streams: StreamEntry[] = [
    { level: 'trace', stream: out },
    { level: 'trace', stream: options.buffer },
  ];
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[removido]' },
      serializers: { err: serializeError },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    pino.multistream(streams),
  );
}
