/**
 * How each collection's records map onto its table (see `schema.ts`): the typed columns written beside the
 * `data` column, computed here from the record with the app's own rules (`fold` for searches), so `save` and a
 * restore's batch inserts write exactly the same row.
 */
import { fold } from '../../../domain/text.js';
import { COLLECTIONS } from '../../../repositories/collections.js';
import type { Entity } from '../../../repositories/port.js';

/** Anything the driver sends as a query parameter. */
export type SqlValue = string | number | boolean | null;

export interface TableMap {
  /** The table (the collection's name, as in backups). */
  table: string;
  /** The typed columns, in the order {@link TableMap.values} returns them. */
  columns: readonly string[];
  values(record: Record<string, unknown>): SqlValue[];
}

/** The largest |ms| a JS Date holds; beyond it a bound means "no bound". */
const MAX_DATE_MS = 8.64e15;

/**
 * A time bound as a `timestamptz` parameter: ISO text for a finite instant (exact to the millisecond, where
 * `to_timestamp(ms / 1000.0)` would go through a double), `infinity` / `-infinity` for open ends.
 */
export function instant(ms: number): string {
  if (Number.isNaN(ms)) throw new RangeError('instante inválido (NaN)');
  if (ms >= MAX_DATE_MS) return 'infinity';
  if (ms <= -MAX_DATE_MS) return '-infinity';
  return new Date(ms).toISOString();
}

const text = (value: unknown): string => String(value);
const nullableText = (value: unknown): string | null => (value === undefined || value === null ? null : String(value));
const msInstant = (value: unknown): string => instant(Number(value));

const map = (table: string, columns: Record<string, (r: Record<string, unknown>) => SqlValue>): TableMap => {
  const entries = Object.entries(columns);
  return {
    table,
    columns: entries.map(([column]) => column),
    values: (record) => entries.map(([, value]) => value(record)),
  };
};

/** Every collection's table, by collection name. */
export const TABLES: Readonly<Record<string, TableMap>> = {
  [COLLECTIONS.medicos]: map(COLLECTIONS.medicos, {
    crm: (r) => text(r.crm),
    nome: (r) => text(r.nome),
    nome_busca: (r) => fold(text(r.nome)),
    especialidade_busca: (r) => fold(text(r.especialidade)),
    ativo: (r) => r.ativo === true,
  }),
  [COLLECTIONS.pacientes]: map(COLLECTIONS.pacientes, {
    // An anonymised paciente's '' is NULL here: the UNIQUE constraint lets NULLs repeat (migration 0009).
    cpf: (r) => (r.cpf === '' ? null : text(r.cpf)),
    nome: (r) => text(r.nome),
    nome_busca: (r) => fold(text(r.nome)),
  }),
  [COLLECTIONS.usuarios]: map(COLLECTIONS.usuarios, {
    email: (r) => text(r.email),
    nome: (r) => text(r.nome),
    papel: (r) => text(r.papel),
    ativo: (r) => r.ativo === true,
    medico_id: (r) => nullableText(r.medicoId),
  }),
  [COLLECTIONS.sessoes]: map(COLLECTIONS.sessoes, {
    usuario_id: (r) => text(r.usuarioId),
    usada_em: (r) => msInstant(r.usadaEm),
  }),
  [COLLECTIONS.consultas]: map(COLLECTIONS.consultas, {
    medico_id: (r) => text(r.medicoId),
    paciente_id: (r) => text(r.pacienteId),
    inicio: (r) => text(r.inicio),
    fim: (r) => text(r.fim),
    status: (r) => text(r.status),
    // Records written before v2 have no `encaixe`: they read as regular consultas (see `withDefaults`).
    encaixe: (r) => r.encaixe === true,
  }),
  [COLLECTIONS.bloqueios]: map(COLLECTIONS.bloqueios, {
    medico_id: (r) => text(r.medicoId),
    inicio: (r) => text(r.inicio),
    fim: (r) => text(r.fim),
  }),
  [COLLECTIONS.feriados]: map(COLLECTIONS.feriados, {
    dia: (r) => text(r.data),
  }),
  [COLLECTIONS.listaEspera]: map(COLLECTIONS.listaEspera, {
    paciente_id: (r) => text(r.pacienteId),
    medico_id: (r) => nullableText(r.medicoId),
    especialidade_busca: (r) => (typeof r.especialidade === 'string' ? fold(r.especialidade) : null),
    criada_em: (r) => text(r.criadaEm),
  }),
  [COLLECTIONS.idempotencia]: map(COLLECTIONS.idempotencia, {
    criado_em: (r) => msInstant(r.criadoEm),
  }),
  [COLLECTIONS.auditoriaPendente]: map(COLLECTIONS.auditoriaPendente, {
    staged_em: (r) => msInstant(r.staged),
  }),
};

export function tableOf(collection: string): TableMap {
  const table = TABLES[collection];
  if (!table) throw new Error(`coleção desconhecida: ${collection}`);
  return table;
}

/** A record as its row's values: `id`, `data` (the record's JSON text), then the typed columns. */
export function rowValues(table: TableMap, record: Entity): { json: string; values: SqlValue[] } {
  const json = JSON.stringify(record);
  return { json, values: [record.id, json, ...table.values(record as unknown as Record<string, unknown>)] };
}

/**
 * `INSERT … ON CONFLICT (id) DO UPDATE` of one record, answering the row's previous `data` as text (NULL: inserted).
 * Built once per table: every save asks for it.
 */
export function upsertSql(table: TableMap): string {
  let sql = UPSERTS.get(table);
  if (sql === undefined) UPSERTS.set(table, (sql = buildUpsertSql(table)));
  return sql;
}
const UPSERTS = new WeakMap<TableMap, string>();

function buildUpsertSql(table: TableMap): string {
  const columns = ['id', 'data', ...table.columns];
  const placeholders = columns.map((_, i) => `$${i + 1}`).join(', ');
  const updates = columns.slice(1).map((c, i) => `${c} = $${i + 2}`).join(', ');
  // Insert first, and read the previous version only when the id was taken. Every part of one statement sees the
  // same snapshot, so `antes` is the row as it was before. Not reading a new record's id matters under
  // SERIALIZABLE: a lookup that finds nothing locks its index page against inserts, and two transactions each
  // inserting where the other had looked (a new consulta, an audit entry: ids next to each other) abort one
  // another although they share no record. `NOT EXISTS (SELECT 1 FROM novo)` is a one-time filter: when the
  // insert happened, the lookup does not run at all.
  return (
    `WITH novo AS (INSERT INTO ${table.table} (${columns.join(', ')}) VALUES (${placeholders}) ON CONFLICT (id) DO NOTHING RETURNING id), ` +
    `antes AS (SELECT data FROM ${table.table} WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM novo)), ` +
    `mudou AS (UPDATE ${table.table} SET ${updates} WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM novo) RETURNING 1) ` +
    `SELECT (SELECT data::text FROM antes) AS antes`
  );
}

/**
 * {@link upsertSql} of many records of one table, with distinct ids, in one statement: `$1` holds the typed columns
 * as a JSON array of rows, read by the table's own row type, and `$2` the records' JSON texts, as a `json[]` (see
 * {@link manyRows}); answers each record's previous `data` as text (NULL: inserted), in the order given. As in the
 * one-record form, only ids the insert found taken are looked up, and when none was (a group of new bookings)
 * nothing is.
 */
export function upsertManySql(table: TableMap): string {
  let sql = UPSERTS_MANY.get(table);
  if (sql === undefined) {
    const t = table.table;
    const columns = ['id', 'data', ...table.columns].join(', ');
    const typed = ['id', ...table.columns].map((c) => `r.${c}`).join(', ');
    const updates = ['data', ...table.columns].map((c) => `${c} = v.${c}`).join(', ');
    // `taken`: whether the insert found any id taken. As a condition without a column it is a one-time filter, so when
    // every row was new the look-up and the update do not run at all: no scan, whatever plan a small table gets, and
    // no predicate lock. When some were taken (updates, rare in batches), they are looked up by id, with the plan the
    // table's size gets, as `upsertSql`'s one id is.
    const taken = '(SELECT cardinality(ids) FROM tomados) > 0';
    sql =
      // The records' JSON goes apart, as json[]: reading a field out of a json value decodes every string in it, and
      // a lone UTF-16 surrogate (which `JSON.stringify` writes as \ud800) would be refused, where the one-record form
      // stores the text as it is.
      `WITH v AS (SELECT ${typed}, d.data, d.n FROM json_populate_recordset(NULL::${t}, $1::json) WITH ORDINALITY AS r ` +
      `JOIN unnest($2::json[]) WITH ORDINALITY AS d(data, n) ON d.n = r.ordinality), ` +
      `novo AS (INSERT INTO ${t} (${columns}) SELECT ${columns} FROM v ORDER BY n ON CONFLICT (id) DO NOTHING RETURNING id), ` +
      `tomados AS (SELECT ARRAY(SELECT id FROM v WHERE id NOT IN (SELECT id FROM novo)) AS ids), ` +
      `antes AS MATERIALIZED (SELECT id, data FROM ${t} WHERE ${taken} AND id = ANY((SELECT ids FROM tomados)::text[])), ` +
      `mudou AS (UPDATE ${t} AS t SET ${updates} FROM v WHERE ${taken} AND t.id = ANY((SELECT ids FROM tomados)::text[]) AND v.id = t.id RETURNING 1) ` +
      `SELECT a.data::text AS antes FROM v LEFT JOIN antes a ON a.id = v.id ORDER BY v.n`;
    UPSERTS_MANY.set(table, sql);
  }
  return sql;
}
const UPSERTS_MANY = new WeakMap<TableMap, string>();

/**
 * The two parameters of {@link upsertManySql} for rows as {@link rowValues} gives them. Text columns are made
 * well-formed (a lone surrogate becomes U+FFFD), as sending the one-record form's text as UTF-8 makes them.
 */
export function manyRows(table: TableMap, rows: readonly { json: string; values: readonly SqlValue[] }[]): [string, string[]] {
  const names = table.columns.map((c) => `,"${c}":`);
  const typed: string[] = [];
  for (const { values } of rows) {
    let row = `{"id":${JSON.stringify(wellFormed(values[0]!))}`;
    for (let i = 0; i < names.length; i++) row += names[i] + JSON.stringify(wellFormed(values[i + 2]!));
    typed.push(`${row}}`);
  }
  return [`[${typed.join(',')}]`, rows.map((r) => r.json)];
}

/** In `u` mode a surrogate matches only when it is not half of a pair. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const wellFormed = (value: SqlValue): SqlValue =>
  typeof value === 'string' && LONE_SURROGATE.test(value) ? value.replace(/\p{Surrogate}/gu, '\uFFFD') : value;

/** Removes the records whose ids are in `$1` (a text array), returning each one's id and its data as it was. */
export function removeManySql(table: TableMap): string {
  return `DELETE FROM ${table.table} WHERE id = ANY($1::text[]) RETURNING id, data::text AS antes`;
}

/** A multi-row INSERT of `rows` records (a restore's batch). */
export function insertManySql(table: TableMap, rows: number): string {
  const columns = ['id', 'data', ...table.columns];
  const width = columns.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${columns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`);
  return `INSERT INTO ${table.table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`;
}
