import type pg from 'pg';
import { translateRead } from './errors.js';
import { isAnswerLost, isConnectionError } from './pool.js';

/** Tries of a statement whose connection died under it (a pooled connection the database closed while idle). */
export const CONNECTION_ATTEMPTS = 3;

/**
 * One statement on the pool, its rows. A pooled connection the database closed while idle (a restart) fails its
 * next query: the statement is asked again on a fresh one. A database that is really away fails the next try
 * too, at once, and the error is the driver's (503). A statement whose answer did not come in time is not asked again
 * (`isAnswerLost`): it may still be running. Only for statements that are safe to run twice: reads, and
 * writes that are idempotent or that the caller accepts may count twice.
 */
export async function queryRows<R extends object>(pool: pg.Pool, sql: string, values?: readonly unknown[]): Promise<R[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await pool.query<R>(sql, values as unknown[] | undefined)).rows;
    } catch (error) {
      if (isConnectionError(error) && !isAnswerLost(error) && attempt < CONNECTION_ATTEMPTS) continue;
      throw translateRead(error);
    }
  }
}
