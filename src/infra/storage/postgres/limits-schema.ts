/**
 * Migration 0004_limites: the counters behind the abuse limits (`repositories/limits.ts`, driver `limits.ts`),
 * shared by every process of the database. Released migrations are never edited: see `schema.ts`.
 *
 * UNLOGGED: the counts matter for minutes and are worth nothing after a crash (PostgreSQL empties an unlogged
 * table on crash recovery, as a restart empties the memory driver's), and their writes skip the WAL — a sign-in
 * or a write does not wait for a flush to be counted. Times are bigint ms since the epoch from the app's clock,
 * never `now()`: the rules are the app's, and its tests move time. `chave` is the SHA-256 (hex) of the key, so an
 * e-mail is never stored in clear. `expira` is when a row stops mattering; `limites_podar` deletes by it.
 */
export const LIMITS = `
-- The elements of a list of ms after desde, sorted.
CREATE FUNCTION limites_recentes(falhas bigint[], desde bigint) RETURNS bigint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(t ORDER BY t), '{}'::bigint[]) FROM unnest(falhas) AS t WHERE t > desde
$$;

-- Failed sign-ins of a key within the window: at most the caller's maximum of them (a refused attempt adds none).
CREATE UNLOGGED TABLE limites_falhas (
  chave text PRIMARY KEY CHECK (chave ~ '^[0-9a-f]{64}$'),
  falhas bigint[] NOT NULL,
  admitida boolean NOT NULL,  -- what the last attempt on this key was told (read back with RETURNING)
  expira bigint NOT NULL      -- the newest failure leaves the window
);
CREATE INDEX limites_falhas_expira_idx ON limites_falhas (expira);

-- Fixed-window counters (writes per minute per session).
CREATE UNLOGGED TABLE limites_janelas (
  chave text PRIMARY KEY CHECK (chave ~ '^[0-9a-f]{64}$'),
  inicio bigint NOT NULL,
  contagem bigint NOT NULL,
  expira bigint NOT NULL
);
CREATE INDEX limites_janelas_expira_idx ON limites_janelas (expira);

-- Deletes what expired before agora, then the failure keys beyond maximo (those that expire first). Idempotent:
-- any process may run it at any time.
CREATE FUNCTION limites_podar(agora bigint, maximo integer) RETURNS void LANGUAGE sql AS $$
  DELETE FROM limites_falhas WHERE expira <= agora;
  DELETE FROM limites_janelas WHERE expira <= agora;
  DELETE FROM limites_falhas WHERE chave IN (SELECT chave FROM limites_falhas ORDER BY expira DESC, chave OFFSET maximo);
$$;
`;
