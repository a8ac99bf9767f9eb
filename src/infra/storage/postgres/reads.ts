/**
 * The port's reads as SQL. One implementation serves both the pool (reads outside a unit of work: each query
 * sees what is committed) and a unit of work's own connection (its snapshot, plus its own writes), through a
 * {@link Query} function. Every read is an indexed query that returns the `data` column; nothing is cached.
 */
import { fold } from '../../../domain/text.js';
import { COLLECTIONS } from '../../../repositories/collections.js';
import { STATUS_PENDENTES } from '../../../domain/consulta-status.js';
import { LONGEST_CONSULTA_MS } from '../../../domain/slots.js';
import type { Bloqueio } from '../../../schemas/bloqueio.schema.js';
import type { FeriadoRecord } from '../../../schemas/feriado.schema.js';
import type { ListaEsperaRecord } from '../../../schemas/lista-espera.schema.js';
import type { Medico } from '../../../schemas/medico.schema.js';
import type { Paciente } from '../../../schemas/paciente.schema.js';
import type { SessaoRecord, UsuarioRecord } from '../../../schemas/usuario.schema.js';
import type { ConsultaRecord, IdempotencyRecord, Page, Reads, StagedAuditEntry } from '../../../repositories/port.js';
import { instant } from './tables.js';

/**
 * Runs one statement and returns its rows. `heavy`: a read that may scan many rows (a page with its total, a whole
 * collection); outside a unit of work it goes on its own connection instead of the shared batch of small reads, so
 * it never holds the others up.
 */
export type Query = <R extends object = Record<string, unknown>>(sql: string, values?: readonly unknown[], heavy?: boolean) => Promise<R[]>;

interface DataRow<T> {
  data: T;
}

interface PagedRow<T> extends DataRow<T> {
  total: string;
}

const C = COLLECTIONS;
/** How far before a span a consulta overlapping it may start (see the conflict queries): as the JSON driver looks. */
const LONGEST_CONSULTA = `interval '${LONGEST_CONSULTA_MS / 60_000} minutes'`;
const PENDENTES = `(${STATUS_PENDENTES.map((s) => `'${s}'`).join(', ')})`;
/**
 * The conflict reads, with their parameters named (they are asked alone, and together in `conflictsAt`): the data of
 * the first consulta overlapping [from, to), other than `except`, that holds the médico's slot / is the paciente's
 * pendente consulta.
 */
const MEDICO_CONFLICT = (medico: string, from: string, to: string, except: string) =>
  `SELECT data FROM consultas WHERE medico_id = ${medico} AND status <> 'cancelada' AND NOT encaixe
     AND inicio > ${from}::timestamptz - ${LONGEST_CONSULTA} AND inicio < ${to} AND fim > ${from} AND id IS DISTINCT FROM ${except}
   ORDER BY inicio, id LIMIT 1`;
const PACIENTE_CONFLICT = (paciente: string, from: string, to: string, except: string) =>
  `SELECT data FROM consultas WHERE paciente_id = ${paciente} AND status IN ${PENDENTES}
     AND inicio > ${from}::timestamptz - ${LONGEST_CONSULTA} AND inicio < ${to} AND fim > ${from} AND id IS DISTINCT FROM ${except}
   ORDER BY inicio, id LIMIT 1`;

/**
 * A consulta as v2 answers it (the JSON driver's `withDefaults`): records written before v2 (or restored from a
 * backup of then) lack `chegouEm` and `encaixe`; `get` and `list` read them as `null` and `false`.
 */
function withDefaults(c: ConsultaRecord): ConsultaRecord {
  return c.chegouEm === undefined || c.encaixe === undefined ? { ...c, chegouEm: c.chegouEm ?? null, encaixe: c.encaixe ?? false } : c;
}

/** `LIKE` pattern for "contains `text`", its wildcards escaped (a search for `50%` means the characters). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** True for a real calendar date `YYYY-MM-DD` (PostgreSQL refuses `2026-02-30` as a `date`; the JSON driver simply finds nothing). */
function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** Collects the WHERE clauses and parameters of one query. */
class Where {
  readonly values: unknown[] = [];
  private readonly clauses: string[] = [];

  /** Adds `clause`, where `?` stands for `value`'s placeholder. */
  add(clause: string, value?: unknown): this {
    if (clause.includes('?')) {
      this.values.push(value);
      this.clauses.push(clause.replace('?', `$${this.values.length}`));
    } else {
      this.clauses.push(clause);
    }
    return this;
  }

  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  toString(): string {
    return this.clauses.length > 0 ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

export function createReads(query: Query): Reads {
  const one = async <T>(sql: string, values: readonly unknown[]): Promise<T | undefined> => (await query<DataRow<T>>(sql, values))[0]?.data;
  const many = async <T>(sql: string, values: readonly unknown[], heavy = false): Promise<T[]> => (await query<DataRow<T>>(sql, values, heavy)).map((r) => r.data);
  const exists = async (sql: string, values: readonly unknown[]): Promise<boolean> => (await query(`SELECT EXISTS (${sql}) AS sim`, values))[0]?.['sim'] === true;
  const byId = <T>(table: string) => (id: string) => one<T>(`SELECT data FROM ${table} WHERE id = $1`, [id]);

  /**
   * A page of `table` filtered by `where` and sorted by `order`, with the total of matches. The total comes with
   * the rows (`count(*) OVER ()`); only a page past the end, which has no row to carry it, counts again.
   */
  async function page<T>(table: string, where: Where, order: string, limit: number, offset: number): Promise<Page<T>> {
    const limitParam = where.param(limit);
    const offsetParam = where.param(offset);
    const rows = await query<PagedRow<T>>(
      `SELECT data, count(*) OVER () AS total FROM ${table} ${where} ORDER BY ${order} LIMIT ${limitParam} OFFSET ${offsetParam}`,
      where.values,
      true,
    );
    let total = rows.length > 0 ? Number(rows[0]!.total) : 0;
    if (rows.length === 0 && offset > 0) {
      const counted = await query<{ total: string }>(`SELECT count(*) AS total FROM ${table} ${where}`, where.values.slice(0, -2), true);
      total = Number(counted[0]?.total ?? 0);
    }
    return { items: rows.map((r) => r.data), total, limit, offset };
  }

  return {
    medicos: {
      get: byId<Medico>(C.medicos),
      findByCrm: (crm) => one<Medico>('SELECT data FROM medicos WHERE crm = $1', [crm]),
      list: (filter) => {
        const where = new Where();
        if (filter.especialidade) where.add('especialidade_busca = ?', fold(filter.especialidade));
        if (filter.ativo !== undefined) where.add('ativo = ?', filter.ativo);
        if (filter.q) where.add(`nome_busca LIKE ? ESCAPE '\\'`, containsPattern(fold(filter.q)));
        return page<Medico>(C.medicos, where, 'nome, id', filter.limit, filter.offset);
      },
      all: () => many<Medico>('SELECT data FROM medicos ORDER BY nome, id', [], true),
    },
    pacientes: {
      get: byId<Paciente>(C.pacientes),
      findByCpf: (cpf) => one<Paciente>('SELECT data FROM pacientes WHERE cpf = $1', [cpf]),
      list: (filter) => {
        const where = new Where();
        if (filter.only) where.add('id = ANY(?::text[])', [...filter.only]);
        // As the JSON driver: a CPF filter is an exact lookup, and the name search does not apply with it.
        if (filter.cpf !== undefined) where.add('cpf = ?', filter.cpf);
        else if (filter.q) where.add(`nome_busca LIKE ? ESCAPE '\\'`, containsPattern(fold(filter.q)));
        return page<Paciente>(C.pacientes, where, 'nome, id', filter.limit, filter.offset);
      },
    },
    consultas: {
      get: async (id) => {
        const consulta = await one<ConsultaRecord>('SELECT data FROM consultas WHERE id = $1', [id]);
        return consulta && withDefaults(consulta);
      },
      subjectsOf: async (medicoId, pacienteId) => {
        // The same rows and index ranges as the three reads it stands for: under SERIALIZABLE, the same conflicts.
        const [row] = await query<{ medico: Medico | null; paciente: Paciente | null; bloqueios: Bloqueio[] }>(
          `SELECT (SELECT data FROM medicos WHERE id = $1) AS medico, (SELECT data FROM pacientes WHERE id = $2) AS paciente,
                  (SELECT coalesce(json_agg(data ORDER BY inicio, fim, id), '[]'::json) FROM bloqueios WHERE medico_id = $1) AS bloqueios`,
          [medicoId, pacienteId],
        );
        return { medico: row?.medico ?? undefined, paciente: row?.paciente ?? undefined, bloqueios: row?.bloqueios ?? [] };
      },
      forMedicoBetween: (medicoId, fromMs, toMs) =>
        many<ConsultaRecord>('SELECT data FROM consultas WHERE medico_id = $1 AND inicio >= $2 AND inicio < $3 ORDER BY inicio, id', [
          medicoId,
          instant(fromMs),
          instant(toMs),
        ]),
      // Answered by the b-tree on (médico or paciente, inicio, id), over the span and the LONGEST_CONSULTA_MS before it
      // (no consulta lasts longer: the API refuses a longer duration). A whole day back, as these read before, made
      // the médico's query visit a full agenda's day of rows (33 µs instead of 60 at 100k). Not by the exclusion
      // constraints' gist indexes: under
      // SERIALIZABLE a read locks the index pages it visits, and a gist page mixes médicos and pacientes, so
      // bookings of unrelated slots would abort each other; a b-tree page holds one médico's (one paciente's)
      // neighbouring consultas. Nor by the table-wide (inicio, id) b-tree, whose pages mix every médico's hours: the
      // owner's b-trees end in `id`, so they give `ORDER BY inicio, id` by themselves and the planner keeps to them
      // with statistics too (migration 0010). The constraints still refuse any overlap at insert, a longer consulta included.
      medicoConflict: (medicoId, fromMs, toMs, exceptId) =>
        one<ConsultaRecord>(MEDICO_CONFLICT('$1', '$2', '$3', '$4'), [medicoId, instant(fromMs), instant(toMs), exceptId ?? null]),
      pacienteConflict: (pacienteId, fromMs, toMs, exceptId) =>
        one<ConsultaRecord>(PACIENTE_CONFLICT('$1', '$2', '$3', '$4'), [pacienteId, instant(fromMs), instant(toMs), exceptId ?? null]),
      conflictsAt: async (medicoId, pacienteId, fromMs, toMs, exceptId) => {
        const [row] = await query<{ medico: ConsultaRecord | null; paciente: ConsultaRecord | null }>(
          `SELECT (${MEDICO_CONFLICT('$1', '$3', '$4', '$5')}) AS medico, (${PACIENTE_CONFLICT('$2', '$3', '$4', '$5')}) AS paciente`,
          [medicoId, pacienteId, instant(fromMs), instant(toMs), exceptId ?? null],
        );
        return { medico: row?.medico ?? undefined, paciente: row?.paciente ?? undefined };
      },
      encaixesBetween: (medicoId, fromMs, toMs) =>
        many<ConsultaRecord>(
          `SELECT data FROM consultas WHERE medico_id = $1 AND encaixe AND status <> 'cancelada' AND inicio >= $2 AND inicio < $3
           ORDER BY inicio, id`,
          [medicoId, instant(fromMs), instant(toMs)],
        ),
      medicoHasFuturePendente: (medicoId, nowMs) =>
        exists(`SELECT 1 FROM consultas WHERE medico_id = $1 AND inicio > $2 AND status IN ${PENDENTES}`, [medicoId, instant(nowMs)]),
      pacienteHasFuturePendente: (pacienteId, nowMs) =>
        exists(`SELECT 1 FROM consultas WHERE paciente_id = $1 AND inicio > $2 AND status IN ${PENDENTES}`, [pacienteId, instant(nowMs)]),
      medicoHasAny: (medicoId) => exists('SELECT 1 FROM consultas WHERE medico_id = $1', [medicoId]),
      ofPaciente: (pacienteId) => many<ConsultaRecord>('SELECT data FROM consultas WHERE paciente_id = $1 ORDER BY inicio, id', [pacienteId], true),
      pacienteSeenBy: (pacienteId, medicoId) => exists('SELECT 1 FROM consultas WHERE paciente_id = $1 AND medico_id = $2', [pacienteId, medicoId]),
      pacienteIdsOf: async (medicoId) => {
        const rows = await query<{ paciente_id: string }>('SELECT DISTINCT paciente_id FROM consultas WHERE medico_id = $1', [medicoId], true);
        return new Set(rows.map((r) => r.paciente_id));
      },
      list: async (filter) => {
        const where = new Where();
        // An empty id or status filters nothing, as in the JSON driver (`?medicoId=` lists every médico's).
        if (filter.medicoId) where.add('medico_id = ?', filter.medicoId);
        if (filter.pacienteId) where.add('paciente_id = ?', filter.pacienteId);
        if (filter.status) where.add('status = ?', filter.status);
        // Both bounds inclusive (the port's contract for listings).
        if (filter.fromMs !== undefined) where.add('inicio >= ?', instant(filter.fromMs));
        if (filter.toMs !== undefined) where.add('inicio <= ?', instant(filter.toMs));
        const result = await page<ConsultaRecord>(C.consultas, where, 'inicio, id', filter.limit, filter.offset);
        return { ...result, items: result.items.map(withDefaults) };
      },
    },
    usuarios: {
      get: byId<UsuarioRecord>(C.usuarios),
      findByEmail: (email) => one<UsuarioRecord>('SELECT data FROM usuarios WHERE email = $1', [email]),
      count: async () => Number((await query<{ n: string }>('SELECT count(*) AS n FROM usuarios'))[0]?.n ?? 0),
      hasOtherActiveAdmin: (exceptId) => exists(`SELECT 1 FROM usuarios WHERE papel = 'admin' AND ativo AND id <> $1`, [exceptId]),
      list: (limit, offset) => page<UsuarioRecord>(C.usuarios, new Where(), 'nome, id', limit, offset),
    },
    sessoes: {
      get: byId<SessaoRecord>(C.sessoes),
      ofUser: (usuarioId) => many<SessaoRecord>('SELECT data FROM sessoes WHERE usuario_id = $1 ORDER BY id', [usuarioId]),
      // `LIMIT NULL` is no limit.
      expired: (cutoffMs, limit) =>
        many<SessaoRecord>('SELECT data FROM sessoes WHERE usada_em < $1 ORDER BY usada_em, id LIMIT $2', [instant(cutoffMs), limit ?? null], true),
    },
    bloqueios: {
      get: byId<Bloqueio>(C.bloqueios),
      ofMedico: (medicoId) => many<Bloqueio>('SELECT data FROM bloqueios WHERE medico_id = $1 ORDER BY inicio, fim, id', [medicoId]),
    },
    feriados: {
      get: byId<FeriadoRecord>(C.feriados),
      on: async (data) => (isCalendarDate(data) ? many<FeriadoRecord>('SELECT data FROM feriados WHERE dia = $1 ORDER BY id', [data]) : []),
      ofYear: (ano) =>
        many<FeriadoRecord>(`SELECT data FROM feriados WHERE dia >= make_date($1, 1, 1) AND dia < make_date($1 + 1, 1, 1) ORDER BY dia, id`, [ano]),
    },
    listaEspera: {
      get: byId<ListaEsperaRecord>(C.listaEspera),
      all: () => many<ListaEsperaRecord>('SELECT data FROM lista_espera ORDER BY criada_em, id', [], true),
      ofPaciente: (pacienteId) => many<ListaEsperaRecord>('SELECT data FROM lista_espera WHERE paciente_id = $1 ORDER BY criada_em, id', [pacienteId]),
    },
    idempotency: {
      get: byId<IdempotencyRecord>(C.idempotencia),
      olderThan: async (cutoffMs, limit) =>
        (await query<{ id: string }>('SELECT id FROM idempotencia WHERE criado_em < $1 ORDER BY criado_em, id LIMIT $2', [instant(cutoffMs), limit ?? null], true)).map(
          (r) => r.id,
        ),
    },
    auditOutbox: {
      all: () => many<StagedAuditEntry>('SELECT data FROM auditoria_pendente ORDER BY staged_em, id', [], true),
    },
  };
}
