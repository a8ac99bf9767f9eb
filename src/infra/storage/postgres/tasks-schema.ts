/**
 * Migration 0005_tarefas: the task board (`infra/task-board.ts`, driver `task-board.ts`) — the records of the
 * task queues of every process of the database. Released migrations are never edited: see `schema.ts`.
 *
 * UNLOGGED: a task record says how a request made minutes ago is going; after a crash of the database it is
 * worth nothing (the processes that ran those tasks lost their connections too), and its many small writes — one
 * per booking, batched — skip the WAL. `registro` is the record as the API shows it (`json`: stored as given).
 * `status` is the record's, except that a waiting task whose owner died is set to 'falhou' when its key is
 * claimed again (`tarefas_reivindicar`); `ordem` orders tasks made at the same instant.
 *
 * "One waiting task per key across every process" is the partial UNIQUE index `tarefas_chave_pendente_key`;
 * "one task ever per mark" (an automatic backup's tick) is `tarefas_marco_key`. Liveness: each process upserts its
 * row of `tarefas_processos` every few seconds, in database time (`now()`), so the processes' clocks never matter.
 */
export const TASKS = `
CREATE UNLOGGED TABLE tarefas (
  id uuid PRIMARY KEY,
  ordem bigserial NOT NULL,
  tipo text NOT NULL,
  status text NOT NULL CHECK (status IN ('pendente', 'executando', 'concluida', 'falhou')),
  chave text,
  marco text CONSTRAINT tarefas_marco_key UNIQUE,
  dono text NOT NULL,
  criada_em timestamptz NOT NULL,
  atualizada_em timestamptz NOT NULL DEFAULT now(),
  registro json NOT NULL
);
CREATE UNIQUE INDEX tarefas_chave_pendente_key ON tarefas (tipo, chave) WHERE status = 'pendente' AND chave IS NOT NULL;
CREATE INDEX tarefas_recentes_idx ON tarefas (criada_em DESC, ordem DESC);

CREATE UNLOGGED TABLE tarefas_processos (
  dono text PRIMARY KEY,
  visto_em timestamptz NOT NULL
);

-- Whether the process dono was seen within limite (database time).
CREATE FUNCTION tarefas_viva(p_dono text, limite interval) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM tarefas_processos WHERE dono = p_dono AND visto_em > now() - limite)
$$;

-- Writes p_registro (a new waiting task of p_dono) as the holder of (its tipo, p_chave) among waiting tasks, and of
-- p_marco, and returns NULL; or returns the id of the task that holds them. A waiting task whose owner was not seen
-- within limite gives its key up first. VOLATILE plpgsql under READ COMMITTED: each statement sees what committed
-- before it, and the INSERT waits for a concurrent claim of the same key to commit or roll back.
CREATE FUNCTION tarefas_reivindicar(p_registro json, p_chave text, p_marco text, p_dono text, limite interval)
RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  detentora uuid;
BEGIN
  FOR tentativa IN 1..20 LOOP
    UPDATE tarefas t SET status = 'falhou', atualizada_em = now()
     WHERE t.tipo = p_registro->>'tipo' AND t.chave = p_chave AND t.status = 'pendente' AND NOT tarefas_viva(t.dono, limite);
    INSERT INTO tarefas (id, tipo, status, chave, marco, dono, criada_em, registro)
    VALUES ((p_registro->>'id')::uuid, p_registro->>'tipo', p_registro->>'status', p_chave, p_marco, p_dono, (p_registro->>'criadaEm')::timestamptz, p_registro)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN RETURN NULL; END IF;
    SELECT t.id INTO detentora FROM tarefas t
     WHERE (t.tipo = p_registro->>'tipo' AND t.chave = p_chave AND t.status = 'pendente') OR (p_marco IS NOT NULL AND t.marco = p_marco)
     LIMIT 1;
    IF FOUND THEN RETURN detentora; END IF;
    -- The holder started (or gave its key up) between the two statements: claim again.
  END LOOP;
  RAISE EXCEPTION 'tarefas_reivindicar: a chave % não se decidiu', p_chave;
END $$;

-- Keeps at most the newest manter finished (or abandoned) tasks, none older than idade; a marked task is kept for
-- idade whatever the number (a tick's mark must outlive the tick). Forgets processes not seen for idade.
-- Idempotent: any process may run it at any time.
CREATE FUNCTION tarefas_podar(manter integer, idade interval, limite interval) RETURNS void LANGUAGE sql AS $$
  DELETE FROM tarefas WHERE id IN (
    SELECT t.id FROM tarefas t
     WHERE t.marco IS NULL AND (t.status IN ('concluida', 'falhou') OR NOT tarefas_viva(t.dono, limite))
     ORDER BY t.criada_em DESC, t.ordem DESC OFFSET manter);
  DELETE FROM tarefas t WHERE t.atualizada_em < now() - idade AND (t.status IN ('concluida', 'falhou') OR NOT tarefas_viva(t.dono, limite));
  DELETE FROM tarefas_processos WHERE visto_em < now() - idade;
$$;
`;
