import { pino } from 'pino';

/** A logger that prints nothing, for tests that do not look at logs. */
export const silentLogger = pino({ level: 'silent' });
