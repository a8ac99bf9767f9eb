import type pg from 'pg';
import { isConnectionError } from './pool.js';

/**
 * A pooled connection held for a while (a unit of work, an export). pg reports a connection that dies while
 * checked out and idle as an `error` event on the client, which would crash the process with no listener: the
 * listener here notes it, and the connection is then destroyed on release instead of going back to the pool.
 */
export class Held {
  broken: Error | undefined;
  private readonly onError = (error: Error): void => {
    this.broken ??= error;
  };

  constructor(readonly client: pg.PoolClient) {
    client.on('error', this.onError);
  }

  /** Marks the connection unusable when `error` says it failed. */
  note(error: unknown): void {
    if (isConnectionError(error)) this.broken ??= error as Error;
  }

  release(): void {
    this.client.removeListener('error', this.onError);
    this.client.release(this.broken);
  }
}
