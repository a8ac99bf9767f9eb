import { LIMITS_MAX_KEYS, type Attempt, type FailureLog, type Limits, type WindowCounter, type WindowHit } from '../../../repositories/limits.js';

/** Expired entries are looked for at most this often (ms of the callers' clock). */
const SWEEP_EVERY_MS = 60_000;

interface Failures {
  times: number[];
  windowMs: number;
}

interface Window {
  start: number;
  count: number;
  windowMs: number;
}

/** Refreshes `key`'s place as the newest, and forgets the oldest keys beyond the bound (a Map keeps insertion order). */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > LIMITS_MAX_KEYS) map.delete(map.keys().next().value!);
}

/**
 * The counters in this process's memory: what the JSON driver uses. Every call runs to its end without waiting, so
 * each is atomic within the process; other processes on the same data directory keep counts of their own (a
 * restart forgets them). At most {@link LIMITS_MAX_KEYS} keys of each kind, the least recently counted forgotten
 * first; expired entries are swept at most once a minute.
 */
export class MemoryLimits implements Limits {
  private readonly failureMap = new Map<string, Failures>();
  private readonly windowMap = new Map<string, Window>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  readonly failures: FailureLog = {
    attempt: async (key, nowMs, windowMs, max): Promise<Attempt> => {
      this.sweepNow(nowMs);
      const failures = this.recent(key, nowMs - windowMs);
      const admitted = failures.length < max;
      if (admitted) failures.push(nowMs);
      if (failures.length > 0) remember(this.failureMap, key, { times: failures, windowMs });
      else this.failureMap.delete(key);
      return { admitted, failures: [...failures] };
    },
    since: async (key, sinceMs) => this.recent(key, sinceMs),
    clear: async (key) => void this.failureMap.delete(key),
  };

  readonly windows: WindowCounter = {
    hit: async (key, nowMs, windowMs): Promise<WindowHit> => {
      this.sweepNow(nowMs);
      let window = this.windowMap.get(key);
      if (!window || Math.abs(nowMs - window.start) >= windowMs) {
        window = { start: nowMs, count: 0, windowMs };
        remember(this.windowMap, key, window);
      }
      window.count += 1;
      return { count: window.count, start: window.start };
    },
  };

  async sweep(nowMs: number): Promise<void> {
    this.lastSweep = nowMs;
    for (const [key, f] of this.failureMap) if (f.times.at(-1)! <= nowMs - f.windowMs) this.failureMap.delete(key);
    for (const [key, w] of this.windowMap) if (nowMs - w.start >= w.windowMs) this.windowMap.delete(key);
  }

  async close(): Promise<void> {}

  /** Keys held now (for tests of the bound). */
  get size(): { failures: number; windows: number } {
    return { failures: this.failureMap.size, windows: this.windowMap.size };
  }

  private sweepNow(nowMs: number): void {
    if (Math.abs(nowMs - this.lastSweep) >= SWEEP_EVERY_MS) void this.sweep(nowMs);
  }

  private recent(key: string, sinceMs: number): number[] {
    return (this.failureMap.get(key)?.times ?? []).filter((t) => t > sinceMs);
  }
}
