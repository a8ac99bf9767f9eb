import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';

/** Accounts tracked at most; the oldest are forgotten first (an attacker cycling e-mails cannot grow memory). */
const MAX_TRACKED = 10_000;

/**
 * Per-account lockout: after `maxFailures` failed sign-ins within `windowMs`, that account's sign-ins are refused
 * (429, with `Retry-After`) until the oldest failure leaves the window, even with the right password. Keyed by the
 * e-mail as typed (lower case), known or not, so a locked answer does not reveal which e-mails exist.
 *
 * The record is per process and in memory: a restart forgets it. Several processes behind one port each count
 * their own failures (at most `maxFailures` × processes attempts per window).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly options: { clock: Clock; maxFailures: number; windowMs: number }) {}

  assertOpen(key: string): void {
    const recent = this.recent(key);
    if (recent.length < this.options.maxFailures) return;
    const retryMs = recent[0]! + this.options.windowMs - this.options.clock.now().getTime();
    const seconds = Math.max(1, Math.ceil(retryMs / 1000));
    throw new AppError('MUITAS_TENTATIVAS', `Muitas tentativas sem sucesso. Tente de novo em ${Math.ceil(seconds / 60)} minuto(s).`, undefined, {
      headers: { 'Retry-After': String(seconds) },
    });
  }

  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.options.clock.now().getTime());
    this.failures.delete(key);
    this.failures.set(key, recent);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.options.clock.now().getTime() - this.options.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > since);
  }
}
