/**
 * Migration `0003_auditoria`: the audit trail as one table, shared by every process of the database (see
 * `audit-log.ts`). Kept apart from `schema.ts` only for size; it is listed in `MIGRATIONS` there.
 *
 * `linha` is the entry exactly as the file driver writes a line of a month file (`infra/audit/line-format.ts`),
 * without its `\n`: `json`, not `jsonb`, so the text comes back byte for byte and its hash can be checked. The
 * other columns are copies of the line's fields, written by the driver from the same entry, for the query
 * filters; `em` is the entry's instant (its offset is kept in `linha`).
 *
 * Order. `seq` is taken while the writer holds the trail's advisory lock (AUDIT_LOCK_KEY), and the lock is held
 * until COMMIT: so seq order is chain order, and a reader that sees seq N has seen every committed row before
 * it. Gaps (a batch rolled back) are harmless: the chain goes by `hash_anterior`, not by seq.
 *
 * Append-only. A statement trigger refuses UPDATE, DELETE and TRUNCATE for every role, the owner included. It
 * keeps the trail from mistakes and casual edits; a role that may alter the table can still disable it — what
 * is changed then shows in the hash chain (`verify`).
 */
export const AUDIT_TRAIL = `
CREATE TABLE auditoria (
  seq bigserial PRIMARY KEY,
  id text NOT NULL CONSTRAINT auditoria_id_key UNIQUE,
  em timestamptz NOT NULL,
  usuario_id text,
  acao text NOT NULL,
  paciente_ids text[] NOT NULL DEFAULT '{}',
  linha json NOT NULL,
  hash_anterior text NOT NULL,
  hash text NOT NULL
);
-- GET /sistema/auditoria: newest first (seq DESC) within each filter, and the exact total of matches. With seq
-- in the b-trees, one user's or one action's newest page is a backward index scan that stops at the page, and
-- the count an index-only scan. A paciente's entries (GIN on the array) and a period are few enough to sort.
CREATE INDEX auditoria_usuario_idx ON auditoria (usuario_id, seq);
CREATE INDEX auditoria_acao_idx ON auditoria (acao, seq);
CREATE INDEX auditoria_paciente_idx ON auditoria USING gin (paciente_ids);
CREATE INDEX auditoria_em_idx ON auditoria (em, seq);

CREATE FUNCTION auditoria_somente_inclusao() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a trilha de auditoria só aceita inclusões (% recusado)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER auditoria_somente_inclusao BEFORE UPDATE OR DELETE OR TRUNCATE ON auditoria
  FOR EACH STATEMENT EXECUTE FUNCTION auditoria_somente_inclusao();
`;
