/**
 * What PostgreSQL's refusals mean to the app. The services check every rule before they write (and answer with
 * the same codes); the constraints are the backstop when two processes pass the check at the same moment, so a
 * violation is answered exactly as the service's own check would have answered it.
 */
import { AppError, StorageUnavailableError } from '../../../core/errors.js';
import { isConnectionError } from './pool.js';

/** SQLSTATEs a unit of work is retried on: the database aborted it to keep transactions serializable. */
const RETRYABLE = new Set(['40001', '40P01']);

export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

const constraintOf = (error: unknown): string | undefined => {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
};

/**
 * Errors that say a connection's prepared statements no longer fit the database: a table a statement reads changed
 * under it (a newer process migrated: `0A000`, "cached plan must not change result type"), or the session lost
 * them (`26000`, behind a proxy). The connection's statements are then deallocated and prepared again.
 */
export function isStalePrepared(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === '26000' || (code === '0A000' && /cached plan/i.test(String(message)));
}

/**
 * True when the unit of work may simply run again: a serialization failure or a deadlock, or prepared statements
 * that no longer fit (the next run prepares them again: `prepared.ts`).
 */
export function isRetryable(error: unknown): boolean {
  const code = sqlState(error);
  return (code !== undefined && RETRYABLE.has(code)) || isStalePrepared(error);
}

/** The value a unique violation names (`Key (crm)=(12345SP) already exists.`), for the message. */
const keyValue = (error: unknown): string | undefined => /\)=\((.*)\) already exists/.exec(String((error as { detail?: unknown }).detail ?? ''))?.[1];

/** The domain error of each constraint, with the words the services use for the same rule. */
const CONSTRAINTS: Readonly<Record<string, (error: unknown) => AppError>> = {
  medicos_crm_key: (error) => {
    const crm = keyValue(error);
    return new AppError('CRM_DUPLICADO', crm ? `Já existe um médico com o CRM ${crm}.` : 'Já existe um médico com este CRM.', [{ path: 'crm', message: 'CRM já cadastrado.' }], {
      cause: error,
    });
  },
  pacientes_cpf_key: (error) =>
    new AppError('CPF_DUPLICADO', 'Já existe um paciente com este CPF.', [{ path: 'cpf', message: 'CPF já cadastrado.' }], { cause: error }),
  usuarios_email_key: (error) =>
    new AppError('EMAIL_DUPLICADO', 'Já existe um usuário com este e-mail.', [{ path: 'email', message: 'E-mail já cadastrado.' }], { cause: error }),
  consultas_medico_sem_sobreposicao: (error) => new AppError('HORARIO_OCUPADO', 'Este horário já está ocupado.', undefined, { cause: error }),
  consultas_paciente_sem_sobreposicao: (error) =>
    new AppError('CONFLITO_PACIENTE', 'O paciente já tem uma consulta agendada que coincide com este horário.', undefined, { cause: error }),
};

/**
 * Values the database cannot look up: text with a NUL (22021) or in no encoding (22P05), a date or time out of its
 * range (22007, 22008, 22009).
 */
const UNTAKEABLE_VALUE = new Set(['22021', '22P05', '22007', '22008', '22009']);

/**
 * {@link translate} for a read a request asks (`queryRows`: a filter, an id), where such a value can only have come
 * from the request: the edge refuses them first (`RefId`, the years `ANO_MIN`–`ANO_MAX`), and this answers any it
 * misses as the bad input it is, a 400. Only there: in a unit of work, a migration, the feed or the audit chain the
 * same codes mean the server built a bad value itself, a bug that must stay a logged 500.
 */
export function translateRead(error: unknown): unknown {
  const code = sqlState(error);
  if (code !== undefined && UNTAKEABLE_VALUE.has(code)) {
    return new AppError('VALIDACAO', 'A requisição tem um valor que não pode ser buscado: um caractere de controle, ou uma data fora do intervalo aceito.', undefined, {
      cause: error,
    });
  }
  return translate(error);
}

/**
 * Refusals that say nothing about the request, only about the database at this moment: a lock or statement time
 * limit a DBA set (55P03, 57014; also an operator's `pg_cancel_backend`), a server that became a read-only standby
 * (25006, after a failover), out of disk, memory or some other limit (53100, 53200, 53400). Answered 503, as when it
 * cannot be reached: the same request may succeed later.
 */
const NOT_NOW = new Set(['55P03', '57014', '25006', '53100', '53200', '53400']);

/**
 * Where a hot standby refuses SERIALIZABLE (0A000): `BEGIN ISOLATION LEVEL SERIALIZABLE` is refused by the setting's
 * check hook, a SERIALIZABLE default by the snapshot. Told by the server's function (`routine`), which is never
 * translated: the message is, under a server's `lc_messages`.
 */
const HOT_STANDBY_ROUTINES = new Set(['call_enum_check_hook', 'GetSerializableTransactionSnapshot']);

/**
 * True for {@link NOT_NOW}'s refusals, and for a hot standby's refusal of SERIALIZABLE (0A000: a unit of work on a
 * server that a failover left read-only).
 */
export function isNotNow(error: unknown): boolean {
  const code = sqlState(error);
  if (code === undefined) return false;
  if (NOT_NOW.has(code)) return true;
  if (code !== '0A000') return false;
  const { routine, message } = error as { routine?: unknown; message?: unknown };
  return (typeof routine === 'string' && HOT_STANDBY_ROUTINES.has(routine)) || /hot standby/i.test(String(message));
}

/**
 * The error a caller of the driver sees for `error`: a catalogued domain error for a unique or exclusion
 * violation, {@link StorageUnavailableError} (503) when the database cannot be reached or cannot serve now, or `error` itself
 * (an AppError the work threw, or a bug).
 */
export function translate(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = sqlState(error);
  if (code === '23505' || code === '23P01') {
    const make = CONSTRAINTS[constraintOf(error) ?? ''];
    if (make) return make(error);
  }
  if (isConnectionError(error)) return new StorageUnavailableError('O banco de dados está indisponível no momento. Tente novamente em instantes.', error);
  if (isNotNow(error)) {
    return new StorageUnavailableError('O banco de dados não pôde atender agora (ocupado, sem espaço ou em manutenção). Tente novamente em instantes.', error);
  }
  return error;
}
