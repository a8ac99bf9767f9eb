/**
 * The PostgreSQL schema, as versioned migrations. Each is SQL text kept in code (the built `dist/` needs no
 * other files) and, once released, never edited: a change is a new migration at the end of the list.
 *
 * Every collection of `repositories/collections.ts` is one table with the same name: `id text PRIMARY KEY`,
 * `data json NOT NULL` — the record exactly as the app keeps it (`json`, not `jsonb`: the text is stored as
 * given, so a record reads back byte-identical, key order included) — and typed columns the driver writes
 * alongside from the same record, for constraints and indexed queries. `*_busca` columns hold `fold()` of a
 * text (lower case, no accents), computed by the driver with the app's own function so both drivers match
 * searches the same way. Instants are `timestamptz`; numbers of ms since the epoch in a record
 * (`usadaEm`, `criadoEm`, `staged`) are written as `to_timestamp(ms / 1000.0)`.
 *
 * No foreign keys, on purpose: the rules about references (a consulta's médico exists, a médico with consultas
 * cannot be deleted) are the services', shared by both drivers, and a restore loads collections in any order.
 */

import { AUDIT_TRAIL } from './audit-schema.js';
import { LIMITS } from './limits-schema.js';
import { TASKS } from './tasks-schema.js';

/** A migration as umzug runs it: a name that sorts in order, and SQL. */
export interface SqlMigration {
  name: string;
  sql: string;
}

/**
 * Advisory lock keys (one bigint each). All lie outside the int4 range, so they can never equal a key made
 * with `hashtext(…)` (an int4), such as the driver's per médico and day encaixe locks.
 */
export const MIGRATION_LOCK_KEY = 7_426_180_001n;
export const FEED_LOCK_KEY = 7_426_180_002n;
/** Held by whoever extends the audit trail's hash chain (`audit-log.ts`): one chain for every process. */
export const AUDIT_LOCK_KEY = 7_426_180_003n;
/** Held by a restore's import (`records.ts`), tried by the next: one restore at a time for every process. */
export const RESTORE_LOCK_KEY = 7_426_180_004n;

/** Classes (first int4) of the two-int advisory keys the consultas trigger takes per médico and per paciente. */
export const CONSULTA_MEDICO_LOCK_CLASS = 74_261_801;
export const CONSULTA_PACIENTE_LOCK_CLASS = 74_261_802;

/** The `LISTEN`/`NOTIFY` channel that announces new rows of `alteracoes`. */
export const FEED_CHANNEL = 'alteracoes';
/** `NOTIFY` channel of signals (`repositories/port.ts`, `Signals`): live state kept in no table. */
export const SIGNAL_CHANNEL = 'sinais';

const RECORDS = `
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Names sort as the JSON driver sorts them (String#localeCompare with 'pt-BR', which is ICU in V8 too).
CREATE COLLATION IF NOT EXISTS agenda_pt_br (provider = icu, locale = 'pt-BR');

CREATE TABLE medicos (
  id text PRIMARY KEY,
  data json NOT NULL,
  crm text NOT NULL CONSTRAINT medicos_crm_key UNIQUE,
  nome text COLLATE agenda_pt_br NOT NULL,
  nome_busca text NOT NULL,
  especialidade_busca text NOT NULL,
  ativo boolean NOT NULL
);
-- list(): by name then id, filtered by especialidade (folded, exact), ativo and a part of the name. A clinic
-- has tens or hundreds of médicos: the name order index does the work, the filters are cheap on top of it.
CREATE INDEX medicos_nome_idx ON medicos (nome, id);
CREATE INDEX medicos_especialidade_idx ON medicos (especialidade_busca, nome, id);

CREATE TABLE pacientes (
  id text PRIMARY KEY,
  data json NOT NULL,
  cpf text NOT NULL CONSTRAINT pacientes_cpf_key UNIQUE,
  nome text COLLATE agenda_pt_br NOT NULL,
  nome_busca text NOT NULL
);
CREATE INDEX pacientes_nome_idx ON pacientes (nome, id);
-- Search by a part of the name ("nome_busca LIKE '%' || $q || '%'"): trigram GIN answers it from the index for
-- three characters or more, at any position of the name, where a b-tree only helps a prefix.
CREATE INDEX pacientes_nome_busca_trgm_idx ON pacientes USING gin (nome_busca gin_trgm_ops);

-- e-mail as the app keeps it: lower case (the zod schema lower-cases every e-mail it accepts).
CREATE TABLE usuarios (
  id text PRIMARY KEY,
  data json NOT NULL,
  email text NOT NULL CONSTRAINT usuarios_email_key UNIQUE,
  nome text COLLATE agenda_pt_br NOT NULL,
  papel text NOT NULL CHECK (papel IN ('admin', 'recepcao', 'medico')),
  ativo boolean NOT NULL,
  medico_id text
);
CREATE INDEX usuarios_nome_idx ON usuarios (nome, id);
CREATE INDEX usuarios_medico_idx ON usuarios (medico_id) WHERE medico_id IS NOT NULL;

-- A session expires SESSION_TTL_MIN after its last use (a setting that may change): the table keeps the last
-- use, and "expired" is a range scan on it.
CREATE TABLE sessoes (
  id text PRIMARY KEY,
  data json NOT NULL,
  usuario_id text NOT NULL,
  usada_em timestamptz NOT NULL
);
CREATE INDEX sessoes_usuario_idx ON sessoes (usuario_id);
CREATE INDEX sessoes_usada_em_idx ON sessoes (usada_em);

CREATE TABLE consultas (
  id text PRIMARY KEY,
  data json NOT NULL,
  medico_id text NOT NULL,
  paciente_id text NOT NULL,
  inicio timestamptz NOT NULL,
  fim timestamptz NOT NULL,
  status text NOT NULL
    CHECK (status IN ('agendada', 'cancelada', 'realizada', 'faltou', 'confirmada', 'aguardando', 'em_atendimento')),
  encaixe boolean NOT NULL DEFAULT false,
  CHECK (inicio < fim),
  -- holdsSlot (domain/consulta-status.ts): every status but cancelada holds its slot, and encaixes never do.
  -- Two slot holders of one médico never overlap, whichever process books them: the loser gets SQLSTATE 23P01.
  CONSTRAINT consultas_medico_sem_sobreposicao EXCLUDE USING gist (medico_id WITH =, tstzrange(inicio, fim) WITH &&)
    WHERE (status <> 'cancelada' AND NOT encaixe),
  -- isPendente: a paciente is never in two consultas still to happen at once, regular or encaixe, any médico.
  CONSTRAINT consultas_paciente_sem_sobreposicao EXCLUDE USING gist (paciente_id WITH =, tstzrange(inicio, fim) WITH &&)
    WHERE (status IN ('agendada', 'confirmada', 'aguardando', 'em_atendimento'))
);
-- Queueing colliding writers. Two transactions inserting overlapping rows at once each find the other's
-- uncommitted row in the constraint's index and wait for each other: PostgreSQL breaks that deadlock only after
-- deadlock_timeout (1 s) by aborting one with 40P01 — measured here, 300 bookings of one slot took 25 s that way.
-- So before a slot-holding (or pending) row is written, the trigger takes a transaction lock per médico (and
-- per paciente) and day touched: colliding writers queue instead, the first commits, and each next one finds
-- a committed row and fails at once with 23P01. Writers of other médicos, pacientes or days never wait. The
-- constraints stay the guarantee; the locks only make losing fast. Keys are (class, hashtext(id:day)):
-- two-int advisory keys, a space apart from the driver's one-bigint keys. Médico locks come before paciente
-- locks in every transaction, so these locks cannot deadlock among themselves.
CREATE FUNCTION consultas_enfileirar() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  primeiro_dia bigint := floor(extract(epoch FROM NEW.inicio) / 86400);
  ultimo_dia bigint := floor(extract(epoch FROM NEW.fim - interval '1 microsecond') / 86400);
BEGIN
  IF NEW.status <> 'cancelada' AND NOT NEW.encaixe THEN
    PERFORM pg_advisory_xact_lock(${CONSULTA_MEDICO_LOCK_CLASS}, hashtext(NEW.medico_id || ':' || primeiro_dia));
    IF ultimo_dia <> primeiro_dia THEN
      PERFORM pg_advisory_xact_lock(${CONSULTA_MEDICO_LOCK_CLASS}, hashtext(NEW.medico_id || ':' || ultimo_dia));
    END IF;
  END IF;
  IF NEW.status IN ('agendada', 'confirmada', 'aguardando', 'em_atendimento') THEN
    PERFORM pg_advisory_xact_lock(${CONSULTA_PACIENTE_LOCK_CLASS}, hashtext(NEW.paciente_id || ':' || primeiro_dia));
    IF ultimo_dia <> primeiro_dia THEN
      PERFORM pg_advisory_xact_lock(${CONSULTA_PACIENTE_LOCK_CLASS}, hashtext(NEW.paciente_id || ':' || ultimo_dia));
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER consultas_enfileirar BEFORE INSERT OR UPDATE ON consultas FOR EACH ROW EXECUTE FUNCTION consultas_enfileirar();

-- The two exclusion constraints' gist indexes also answer medicoConflict / pacienteConflict when a query repeats
-- their WHERE. These b-trees serve the rest: a médico's day (agenda, encaixes of a day, future bookings), a
-- paciente's consultas, and the unfiltered list by date.
CREATE INDEX consultas_medico_inicio_idx ON consultas (medico_id, inicio);
CREATE INDEX consultas_paciente_inicio_idx ON consultas (paciente_id, inicio);
CREATE INDEX consultas_inicio_idx ON consultas (inicio, id);

CREATE TABLE bloqueios (
  id text PRIMARY KEY,
  data json NOT NULL,
  medico_id text NOT NULL,
  inicio timestamptz NOT NULL,
  fim timestamptz NOT NULL,
  CHECK (inicio < fim)
);
CREATE INDEX bloqueios_medico_inicio_idx ON bloqueios (medico_id, inicio);

-- The record's date (its field \`data\`) is the column dia: data is every table's JSON column. Several clinic
-- holidays may share a date (the app lists them all), so no UNIQUE here.
CREATE TABLE feriados (
  id text PRIMARY KEY,
  data json NOT NULL,
  dia date NOT NULL
);
CREATE INDEX feriados_dia_idx ON feriados (dia);

-- First come, first served: the order of arrival is (criada_em, id).
CREATE TABLE lista_espera (
  id text PRIMARY KEY,
  data json NOT NULL,
  paciente_id text NOT NULL,
  medico_id text,
  especialidade_busca text,
  criada_em timestamptz NOT NULL
);
CREATE INDEX lista_espera_chegada_idx ON lista_espera (criada_em, id);
CREATE INDEX lista_espera_paciente_idx ON lista_espera (paciente_id);
CREATE INDEX lista_espera_medico_idx ON lista_espera (medico_id) WHERE medico_id IS NOT NULL;
CREATE INDEX lista_espera_especialidade_idx ON lista_espera (especialidade_busca) WHERE especialidade_busca IS NOT NULL;

CREATE TABLE idempotencia (
  id text PRIMARY KEY,
  data json NOT NULL,
  criado_em timestamptz NOT NULL
);
CREATE INDEX idempotencia_criado_em_idx ON idempotencia (criado_em);

CREATE TABLE auditoria_pendente (
  id text PRIMARY KEY,
  data json NOT NULL,
  staged_em timestamptz NOT NULL
);
CREATE INDEX auditoria_pendente_staged_em_idx ON auditoria_pendente (staged_em, id);
`;

/**
 * The change feed: what every process reads to learn of commits made by any process (agenda cache, slot
 * states, SSE across processes, SSE `Last-Event-ID` replay).
 *
 * Writing. The driver inserts one row per changed record in the same transaction as the write — as the
 * transaction's LAST statements (see "why a lock" below) — with `antes`/`depois` the records as JSON (NULL for
 * an insert/delete). A row with `id` NULL means the whole collection was replaced (a restore): readers rebuild
 * what they derive from it instead of expecting one row per record. `transacao` groups the rows of one commit.
 *
 * Why a lock. A sequence number is taken when a row is inserted, but transactions commit in another order: a
 * reader that read "every seq > 10" while seq 11 was still in flight and seq 12 committed would skip 11 for
 * good. So the BEFORE INSERT trigger takes a SHARED advisory lock (FEED_LOCK_KEY) and only then the next seq,
 * and `alteracoes_desde()` takes the same lock EXCLUSIVE before it reads: by then every transaction that took
 * a seq has committed or rolled back, and every later one waits to take its seq until the read is done, so a
 * read always sees a gap-free prefix (gaps left by rollbacks stay gaps forever and are harmless). Measured
 * here with 20 writers and a polling reader: without the lock the reader missed 20–33% of the committed rows,
 * with it none (the schema test keeps that race). Writers share
 * the lock with each other (no cost between writers, commits still group); only a reader briefly waits for the
 * writers in flight and holds new ones for one SELECT. Inserting the feed rows last keeps a writer that holds
 * the lock from waiting on another writer's row lock while a reader is queued (PostgreSQL would untangle that
 * through its deadlock detector, after deadlock_timeout).
 *
 * Order. Rows of two concurrent transactions may interleave in seq; what matters holds: two writes of the same
 * record are in commit order, because the second writer waits on the first one's row lock before it reaches
 * its feed rows. Readers may hand the rows of one `transacao` together, as one commit.
 *
 * Announcing. Not NOTIFY inside the write: PostgreSQL serialises the commits of every transaction that
 * notified (one lock, held through the WAL flush), which halved durable commits/s in a measurement here. The
 * driver announces after its commit with `SELECT alteracoes_anunciar()` (since 0007, `alteracoes_anunciar(origem)`:
 * see ANNOUNCE_WITH_ORIGIN) — at most one call in flight per process, so a burst of commits costs one NOTIFY —
 * which commits without waiting for a flush (the rows it announces are already durable; a lost notification only
 * delays a reader until the next one or its poll).
 *
 * Reading. A process LISTENs on FEED_CHANNEL and, woken (or every few seconds, in case a notification was lost
 * with a connection), calls `alteracoes_desde(last_seq, batch)` until it returns fewer rows than asked, then
 * checks `alteracoes_poda.ate`: above the seq it had read up to before this read means rows it never saw were
 * pruned (pruning goes by age, and an old transaction's row can carry a later seq) → reset (resync).
 * SSE event ids can be the seq itself: the same in every process, so `Last-Event-ID` replays across them.
 *
 * Pruning. `alteracoes_podar(idade)` deletes rows older than `idade` and records the highest seq removed.
 */
const CHANGE_FEED = `
CREATE SEQUENCE alteracoes_seq AS bigint CACHE 1;  -- CACHE 1: seqs must grow in the order they are taken

CREATE TABLE alteracoes (
  seq bigint PRIMARY KEY,  -- set by the trigger, under the feed lock (not a column default: see above)
  transacao xid8 NOT NULL DEFAULT pg_current_xact_id(),
  colecao text NOT NULL,
  id text,
  antes json,
  depois json,
  em timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alteracoes_em_idx ON alteracoes (em);

CREATE TABLE alteracoes_poda (
  unica boolean PRIMARY KEY DEFAULT true CHECK (unica),
  ate bigint NOT NULL
);
INSERT INTO alteracoes_poda (ate) VALUES (0);

CREATE FUNCTION alteracoes_numerar() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(${FEED_LOCK_KEY});
  NEW.seq := nextval('alteracoes_seq');
  RETURN NEW;
END $$;
CREATE TRIGGER alteracoes_numerar BEFORE INSERT ON alteracoes FOR EACH ROW EXECUTE FUNCTION alteracoes_numerar();

-- Each statement of a VOLATILE plpgsql function takes a fresh snapshot under READ COMMITTED, so the SELECT sees
-- everything committed before the lock was granted. Under a fixed snapshot (REPEATABLE READ, SERIALIZABLE)
-- it would not: the function refuses to run there.
CREATE FUNCTION alteracoes_desde(apos bigint, limite integer)
RETURNS SETOF alteracoes LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'alteracoes_desde() needs READ COMMITTED (it is %)', current_setting('transaction_isolation');
  END IF;
  PERFORM pg_advisory_xact_lock(${FEED_LOCK_KEY});
  RETURN QUERY SELECT * FROM alteracoes WHERE seq > apos ORDER BY seq LIMIT limite;
END $$;

CREATE FUNCTION alteracoes_anunciar() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- is_local: lasts until this transaction ends, so it governs this transaction's own commit.
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_notify('${FEED_CHANNEL}', '');
END $$;

CREATE FUNCTION alteracoes_podar(idade interval) RETURNS bigint LANGUAGE sql AS $$
  WITH removidas AS (DELETE FROM alteracoes WHERE em < now() - idade RETURNING seq),
       marca AS (UPDATE alteracoes_poda SET ate = greatest(ate, (SELECT max(seq) FROM removidas))
                 WHERE EXISTS (SELECT 1 FROM removidas) RETURNING 1)
  SELECT count(*) FROM removidas;
$$;
`;

/**
 * Group commit (`shared-transactions.ts`) writes many consultas in one transaction. Row by row, the queueing trigger
 * above would take médico and paciente locks interleaved, in the order the works happen to write (M1, P1, M2, P2),
 * and two groups, or a group and a single write, could each hold a lock the other waits for: a deadlock, broken by
 * PostgreSQL only after deadlock_timeout. So a group first takes every lock its consultas will need, médico locks
 * before paciente locks and each class in key order — the order a single write follows too (one médico's days,
 * then one paciente's; quarter hours since migration 0012) — with this function; the trigger then finds them held.
 */
const GROUP_LOCKS = `
CREATE FUNCTION consultas_travar_em_ordem(classes integer[], chaves text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  -- By class, then by "id:day" (days have the same number of digits: text order is day order), so one médico's
  -- days come in the order the trigger takes them for a consulta that spans two.
  FOR r IN SELECT DISTINCT c, k COLLATE "C" AS k FROM unnest(classes, chaves) AS t(c, k) ORDER BY c, k LOOP
    PERFORM pg_advisory_xact_lock(r.c, hashtext(r.k));
  END LOOP;
END $$;
`;

/**
 * The announcement names its process (a token each process draws at start), so a process woken by its own commits
 * — which it has delivered already — does not read the feed for them: each read holds every writer's feed rows back
 * for a moment (see "Why a lock" above), and with several processes those reads were most of the waiting. The
 * argument-less version stays for processes of an older version during an upgrade (an empty payload: everyone reads).
 */
const ANNOUNCE_WITH_ORIGIN = `
CREATE FUNCTION alteracoes_anunciar(origem text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_notify('${FEED_CHANNEL}', origem);
END $$;
`;

/**
 * The exclusion constraints' keys as `uuid`, not `text` (measured with `bench:pg-profile` at 100k: the group's consulta
 * INSERT went from about 7.4 to 3.6 ms for some 25 rows; bookings/s, in pairs run side by side, 1.17–1.26×). `btree_gist` keeps
 * a text key in its inner pages as a range of strings and compares them with the column's collation to choose where a
 * row goes and to find overlaps; a uuid is 16 bytes compared as bytes. The columns stay `text` (ids are UUIDs made by
 * the server, but the port takes any string, and a lookup by an id that is not a UUID must find nothing, not fail):
 * `agenda_chave` maps an id in canonical form (lowercase, as `randomUUID` writes it) to that uuid, and any other
 * string to the MD5 of its text as a uuid. Two equal ids always get one key, so no overlap can slip through. Two
 * different ids share a key only when one is not a canonical UUID and the other is the canonical spelling of its MD5:
 * only a hand-made backup could hold that (the server makes every id with `randomUUID`), and it would refuse a
 * booking, never allow one.
 * It is a plain SQL expression, IMMUTABLE and not STRICT, so PostgreSQL inlines it into the indexes' expressions.
 * `md5()` is refused by a PostgreSQL built for FIPS mode; only ids that are not canonical UUIDs reach it, so there the
 * migration (and a write of such an id) would fail. Every id the server makes is a canonical UUID.
 *
 * The conflict reads (reads.ts) never used these gist indexes, whatever 0001's comment says: they read the (médico,
 * início) and (paciente, início) b-trees (`conflictsAt` says why). Rebuilding the two indexes takes the table's lock
 * for as long as it lasts (about 7 s for 100k consultas), once, at the start of the first process of this version.
 */
const UUID_KEYS = `
CREATE FUNCTION agenda_chave(id text) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN id::uuid ELSE md5(id)::uuid END
$$;
ALTER TABLE consultas
  DROP CONSTRAINT consultas_medico_sem_sobreposicao,
  DROP CONSTRAINT consultas_paciente_sem_sobreposicao,
  ADD CONSTRAINT consultas_medico_sem_sobreposicao EXCLUDE USING gist (agenda_chave(medico_id) WITH =, tstzrange(inicio, fim) WITH &&)
    WHERE (status <> 'cancelada' AND NOT encaixe),
  ADD CONSTRAINT consultas_paciente_sem_sobreposicao EXCLUDE USING gist (agenda_chave(paciente_id) WITH =, tstzrange(inicio, fim) WITH &&)
    WHERE (status IN ('agendada', 'confirmada', 'aguardando', 'em_atendimento'));
`;

/**
 * An anonymised paciente keeps no CPF (`cpf: ''` in its record, `PacienteService.anonymise`), and a clinic anonymises
 * many: the column holds NULL for them, which the UNIQUE constraint lets repeat, instead of '' — which it did not, so
 * only the first anonymisation of a database succeeded and every later one answered 409 `cpf-duplicado` (and a JSON
 * backup with two anonymised pacientes could not be restored here). The record in `data` still says `''`; lookups by
 * CPF never ask for '' (the API takes 11 digits).
 */
const ANONYMISED_CPF = `
ALTER TABLE pacientes ALTER COLUMN cpf DROP NOT NULL;
UPDATE pacientes SET cpf = NULL WHERE cpf = '';
`;

/**
 * The b-trees of a médico's and of a paciente's consultas carry `id` after `inicio`, so they give the order every read
 * of them asks for (`ORDER BY inicio, id`) by themselves. Without it, once the table had statistics (any ANALYZE:
 * autovacuum's, minutes after a restore), the planner answered the conflict reads and a médico's day with the
 * (inicio, id) b-tree of every médico and paciente instead: it needs no sort, and a booking's hours lie past the
 * dates the statistics know, where they promise no rows. Under load those hours hold every médico's new consultas:
 * measured at 100k (`bench:pg-profile` after `VACUUM (ANALYZE)`), the conflict read took 621 µs of execution and
 * 258 µs of planning per booking instead of 61 µs and none, and the database's CPU per booking went from about 780 to
 * 1,440 µs. Under SERIALIZABLE such a read also locks index pages that every médico's consultas share.
 * The new indexes are built first, under a lock that holds writes back but lets reads on (a few seconds for 100k
 * consultas), then the old ones are dropped: that takes the lock that holds reads back too, from the drop to the
 * migration's commit, which follows at once. Once, at the start of the first process of this version.
 */
const OWNER_ORDER = `
CREATE INDEX consultas_medico_inicio_id_idx ON consultas (medico_id, inicio, id);
CREATE INDEX consultas_paciente_inicio_id_idx ON consultas (paciente_id, inicio, id);
DROP INDEX consultas_medico_inicio_idx;
DROP INDEX consultas_paciente_inicio_idx;
ALTER INDEX consultas_medico_inicio_id_idx RENAME TO consultas_medico_inicio_idx;
ALTER INDEX consultas_paciente_inicio_id_idx RENAME TO consultas_paciente_inicio_idx;
`;

/**
 * The audit outbox keeps only its primary key. Its (staged_em, id) b-tree served one read, the whole outbox in
 * staging order, which recovery makes every 10 s of a table that holds only the entries not yet appended (none, most
 * of the time): it sorts them as cheaply. And it misled the planner. The outbox is a queue: every booking's entry is
 * inserted, then deleted once appended, so autovacuum often analyses it empty (`reltuples` 0) while its pages hold
 * thousands of dead rows. With that, the generic plan of the removal (`id = ANY($1)`) took the (staged_em, id) b-tree,
 * reading all of it for each group of removals: 2–6 ms and 3,800 buffers a call instead of a fraction of a
 * millisecond, measured at 100k (`bench:pg-profile --analyze-after-warmup`, about 125 µs of database time per booking).
 */
const OUTBOX_KEY_ONLY = `
DROP INDEX auditoria_pendente_staged_em_idx;
`;

/**
 * The queueing locks' time unit: a quarter of an hour (see `QUARTER_HOUR_LOCKS`). Written into migration 0012's SQL:
 * changing either constant needs a new migration that replaces `consultas_enfileirar` again.
 */
export const QUEUE_BUCKET_MS = 15 * 60_000;
/**
 * The most quarter hours one consulta locks, per class. A consulta touching more locks its first and last quarter
 * hours only, and then a shorter consulta inside it shares none of its keys: the two would not queue (the constraints
 * still refuse the overlap, after deadlock_timeout at worst). No consulta the API or a restore accepts comes near it:
 * the longest (`LONGEST_CONSULTA_MS`, 240 minutes) touches 17, and a test keeps it so if that limit grows.
 */
export const QUEUE_MAX_BUCKETS = 24;

/**
 * The queueing locks (0001's trigger, 0006's group function) are per médico and quarter hour, and per paciente and
 * quarter hour, instead of per day: every quarter hour a consulta touches (start included, end excluded). Two
 * consultas that overlap share at least one instant, so they share that instant's quarter hour: colliding writers
 * still queue. Writers of one médico's (or paciente's) day at other hours no longer wait for each other, and with
 * several server processes they did all the time: a group commit holds its locks until its COMMIT, and the groups of
 * the processes booked the same clinic day. Measured at 100k with three processes (`bench:pg-profile --processes=3`,
 * three runs each, alternating with the build before): a group's wait for its locks fell from 2.9–4.3 ms to
 * 0.4–1.1 ms. Bookings/s did not change there (before 564–645, after 611–617): the three processes keep both cores
 * busy, and CPU is what limits them; on a machine with cores to spare, that wait is time the group holds all its
 * other locks. A consulta of 30 minutes takes 2 or 3 locks per class instead of one. Advisory locks live in
 * PostgreSQL's shared lock table (`max_locks_per_transaction` × connections, 6,400 entries by default); a group of 64
 * four-hour consultas, the most one group holds, takes 2,176 — so three processes each holding such a group at once
 * would need more than the default table, and the third would fail (53200, then the group runs again as single works).
 * Keys are hashtext('<id>:<quarter hours since the epoch>'); the group function sorts them as text, which is their
 * time order while the number has seven digits (from 1998 to 2255); the trigger's loops count them in int4, which
 * holds them for some 60,000 years. A hash collision between two keys can still make two orders disagree, as it
 * could with day keys (more keys make it likelier): that costs a deadlock_timeout and a retry, never a wrong answer.
 * Upgrade. The trigger lives in the database, so once this migration commits, processes of the older version run the
 * new trigger too (PL/pgSQL recompiles a replaced function): they queue with the new ones on quarter-hour keys, but
 * their groups take day keys ahead (useless now) and the quarter hours row by row, out of order. Until they stop, a
 * group of theirs can deadlock with another writer: PostgreSQL breaks it after deadlock_timeout (1 s) and the group
 * runs again (40P01 is retried). Going back to the older version keeps this trigger, with the same effect.
 */
const QUARTER_HOUR_LOCKS = `
CREATE OR REPLACE FUNCTION consultas_enfileirar() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  primeiro bigint := floor(extract(epoch FROM NEW.inicio) / ${QUEUE_BUCKET_MS / 1000});
  ultimo bigint := floor(extract(epoch FROM NEW.fim - interval '1 microsecond') / ${QUEUE_BUCKET_MS / 1000});
  passo bigint := CASE WHEN ultimo - primeiro >= ${QUEUE_MAX_BUCKETS} THEN ultimo - primeiro ELSE 1 END;
BEGIN
  IF NEW.status <> 'cancelada' AND NOT NEW.encaixe THEN
    FOR b IN primeiro..ultimo BY passo LOOP
      PERFORM pg_advisory_xact_lock(${CONSULTA_MEDICO_LOCK_CLASS}, hashtext(NEW.medico_id || ':' || b));
    END LOOP;
  END IF;
  IF NEW.status IN ('agendada', 'confirmada', 'aguardando', 'em_atendimento') THEN
    FOR b IN primeiro..ultimo BY passo LOOP
      PERFORM pg_advisory_xact_lock(${CONSULTA_PACIENTE_LOCK_CLASS}, hashtext(NEW.paciente_id || ':' || b));
    END LOOP;
  END IF;
  RETURN NEW;
END $$;
`;

/** Every migration, in order. Append only. */
export const MIGRATIONS: readonly SqlMigration[] = [
  { name: '0001_registros', sql: RECORDS },
  { name: '0002_alteracoes', sql: CHANGE_FEED },
  { name: '0003_auditoria', sql: AUDIT_TRAIL },
  { name: '0004_limites', sql: LIMITS },
  { name: '0005_tarefas', sql: TASKS },
  { name: '0006_travas_em_grupo', sql: GROUP_LOCKS },
  { name: '0007_aviso_com_origem', sql: ANNOUNCE_WITH_ORIGIN },
  { name: '0008_chaves_uuid', sql: UUID_KEYS },
  { name: '0009_cpf_anonimizado', sql: ANONYMISED_CPF },
  { name: '0010_ordem_por_dono', sql: OWNER_ORDER },
  { name: '0011_pendentes_so_pela_chave', sql: OUTBOX_KEY_ONLY },
  { name: '0012_travas_por_quarto_de_hora', sql: QUARTER_HOUR_LOCKS },
];
