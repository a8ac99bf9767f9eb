/**
 * The PostgreSQL driver's pieces the composition root needs, in one module that it imports only when the storage is
 * PostgreSQL: a server on JSON files never loads `pg`, `umzug` and the driver's modules (about a quarter of a second
 * of its start-up).
 */
export { PgAuditLog } from './audit-log.js';
export { PgLimits } from './limits.js';
export { PgStorage } from './pg-storage.js';
export { PgTaskBoard } from './task-board.js';
