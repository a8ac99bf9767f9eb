import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { FailureLog } from '../repositories/limits.js';

/**
 * Per-account lockout: after `maxFailures` failed sign-ins within `windowMs`, that account's sign-ins are refused
 * (429, with `Retry-After`) until the oldest failure leaves the window, even with the right password. Keyed by the
 * e-mail as typed (lower case), known or not, so a locked answer does not reveal which e-mails exist.
 *
 * The counts live in the storage's {@link FailureLog}: with PostgreSQL one count for every process of the database
 * (an attacker gets `maxFailures` attempts per window however many processes serve the port), with the JSON driver
 * one per process. Each attempt is counted as a failure when it is let in, before its password is checked, and a
 * success clears the account: so simultaneous attempts cannot all pass the check before any of them has failed.
 */
export class LoginThrottle {
  constructor(private readonly options: { failures: FailureLog; clock: Clock; maxFailures: number; windowMs: number }) {}

  /** Lets one attempt at `key` in (counted as a failure until {@link succeed}), or throws MUITAS_TENTATIVAS. */
  async admit(key: string): Promise<void> {
    const { failures, clock, maxFailures, windowMs } = this.options;
    const now = clock.now().getTime();
    const attempt = await failures.attempt(key, now, windowMs, maxFailures);
    if (attempt.admitted) return;
    const oldest = attempt.failures[0] ?? now;
    // Bounded by the window: a failure stamped by a process whose clock runs ahead cannot lock for longer.
    const seconds = Math.max(1, Math.ceil(Math.min(windowMs, oldest + windowMs - now) / 1000));
    const minutes = Math.ceil(seconds / 60);
    throw new AppError('MUITAS_TENTATIVAS', `Muitas tentativas sem sucesso. Tente de novo em ${minutes} ${minutes === 1 ? 'minuto' : 'minutos'}.`, undefined, {
      headers: { 'Retry-After': String(seconds) },
    });
  }

  /** The attempt let in at `key` succeeded: its failures are forgotten. */
  async succeed(key: string): Promise<void> {
    await this.options.failures.clear(key);
  }
}
