/**
 * Counters behind the abuse limits (sign-in lockout, writes per minute), kept where every process that shares the
 * storage sees them: in memory with the JSON driver (one count per process), in the database with PostgreSQL (one
 * count for every process of that database, whichever process a request reaches).
 *
 * Times are ms since the epoch from the caller's injected clock, never the database's: the rules live in the
 * callers, and tests move time with a fake clock. Keys are opaque strings (an e-mail, a session id); a driver
 * that writes them down stores a hash of them, never the key itself.
 *
 * Each call is atomic against every other call on the same key, from any process: concurrent requests cannot
 * all slip under a limit between a read and a write.
 */

/** Keys tracked at most by the in-memory counters; the oldest are forgotten first (an attacker cycling keys cannot grow memory). */
export const LIMITS_MAX_KEYS = 10_000;

/** What {@link FailureLog.attempt} decided. */
export interface Attempt {
  /** True when the attempt was counted (fewer than `max` failures were within the window); false when refused. */
  admitted: boolean;
  /** The failures within the window, oldest first, this attempt included when admitted. Never more than `max`. */
  failures: number[];
}

/**
 * Failures of a key within a sliding window. An attempt is counted as a failure the moment it is admitted, before
 * its outcome is known, so a burst of simultaneous attempts (on one process or many) gets at most `max` through;
 * a success clears the key.
 */
export interface FailureLog {
  /**
   * Counts an attempt at `nowMs` when fewer than `max` failures of `key` lie in (`nowMs - windowMs`, `nowMs`];
   * otherwise counts nothing. Failures older than the window are forgotten.
   */
  attempt(key: string, nowMs: number, windowMs: number, max: number): Promise<Attempt>;
  /** The failures of `key` after `sinceMs`, oldest first. */
  since(key: string, sinceMs: number): Promise<number[]>;
  /** Forgets every failure of `key` (a success). */
  clear(key: string): Promise<void>;
}

/** One hit's fixed window: `count` hits (this one included) since `start`. */
export interface WindowHit {
  count: number;
  /** ms since the epoch when the window began; it ends at `start + windowMs`. */
  start: number;
}

/**
 * Hits of a key in fixed windows: the first hit opens a window of `windowMs`, later hits inside it add one, and the
 * first hit after it opens the next. A clock that steps back by a whole window or more also opens a new one.
 */
export interface WindowCounter {
  hit(key: string, nowMs: number, windowMs: number): Promise<WindowHit>;
}

/** The counters of one storage. */
export interface Limits {
  readonly failures: FailureLog;
  readonly windows: WindowCounter;
  /** Forgets what expired before `nowMs`. Drivers also do it by themselves, now and then; tests call it to watch it. */
  sweep(nowMs: number): Promise<void>;
  /** Waits for work in flight (a sweep); the storage closes after. */
  close(): Promise<void>;
}
