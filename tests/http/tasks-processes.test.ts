import pg from 'pg';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { TaskContext } from '../../src/infra/task-queue.js';
import { BOARD_HISTORY, PgTaskBoard } from '../../src/infra/storage/postgres/task-board.js';
import type { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import type { TaskRecord } from '../../src/infra/task-record.js';
import { isAutomaticName } from '../../src/services/backup-names.js';
import { bearer, makeApp, signIn, TEST_NOW, type TestApp } from '../helpers/app.js';
import { databaseOf } from '../helpers/drivers.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

/**
 * Two processes of one PostgreSQL database, as two containers (each its own PgStorage and queue) in this test
 * process: the task board lets either answer for the other's tasks and decides coalesced tasks once for both.
 */

const ABANDONED = { type: '/problemas/processo-encerrado', status: 503, detail: 'O processo que executava a tarefa foi encerrado.' };

/** Two apps on one database (one data directory, so one backup folder too). */
async function twoProcesses(): Promise<{ a: TestApp; b: TestApp }> {
  const a = await makeApp({ driver: 'postgres' });
  const b = await makeApp({ driver: 'postgres', env: { DATA_DIR: a.dataDir } });
  return { a, b };
}

/** Holds every backup of `t` at its start (after reporting 40 %) until `open()`. */
function holdBackups(t: TestApp) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const started: string[] = [];
  const backups = t.container.services.backups;
  const create = backups.create.bind(backups);
  const spy = vi.spyOn(backups, 'create').mockImplementation(async (options: { automatic: boolean }, context?: TaskContext) => {
    started.push(context!.id);
    context!.progress(40);
    await opened;
    return create(options, context);
  });
  return { open, started, spy };
}

async function query<T extends pg.QueryResultRow>(t: TestApp, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseOf(t.dataDir)! });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(skipWithoutPostgres())('task records shared by the processes of a PostgreSQL database', () => {
  it('when a backup is asked on A, then B finds it (same record) before the 202 leaves, follows its progress and result, and lists it', async () => {
    const { a, b } = await twoProcesses();
    const held = holdBackups(a);
    const res = await request(a.app).post('/sistema/tasks/backup').expect(202);
    const location = res.headers.location as string;
    expect(location).toBe(`/sistema/tasks/${res.body.id}`);
    // No wait of any kind: the record was on the board before A answered.
    const early = await request(b.app).get(location).expect(200);
    expect(early.body).toMatchObject({ id: res.body.id, tipo: 'backup', criadaEm: res.body.criadaEm });

    await a.container.queue.published();
    const running = await request(b.app).get(location).expect(200);
    expect(running.body).toEqual(a.container.queue.get(res.body.id));
    expect(running.body).toMatchObject({ status: 'executando', progresso: 40 });
    const listed = await request(b.app).get('/sistema/tasks').query({ tipo: 'backup' }).expect(200);
    expect(listed.body.items).toEqual([running.body]);
    expect((await request(b.app).get('/sistema/tasks').query({ status: 'concluida' }).expect(200)).body.items).toEqual([]);

    held.open();
    await a.container.queue.onIdle();
    await a.container.queue.published();
    const finished = await request(b.app).get(location).expect(200);
    expect(finished.body).toMatchObject({ status: 'concluida', progresso: 100, resultado: { nome: expect.any(String) } });
    expect(finished.body).toEqual((await request(a.app).get(location).expect(200)).body);
    expect((await request(b.app).get('/sistema/tasks').query({ status: 'concluida' }).expect(200)).body.items).toEqual([finished.body]);
    // B ran nothing: the record came from the board.
    expect(b.container.queue.get(res.body.id)).toBeUndefined();
  }, 120_000);

  it('when a booking is accepted with Prefer: respond-async on A, then B follows its Location to concluida and finds the consulta', async () => {
    const { a, b } = await twoProcesses();
    const { medicoId, pacienteId } = await clinic(a.app);
    const res = await agendar(a.app, { medicoId, pacienteId, inicio: at('10:00') }, { Prefer: 'respond-async' }).expect(202);
    expect((await request(b.app).get(res.headers.location as string).expect(200)).body).toMatchObject({ id: res.body.id, tipo: 'agendar_consulta' });
    await a.container.queue.onIdle();
    await a.container.queue.published();
    const task = await request(b.app).get(res.headers.location as string).expect(200);
    expect(task.body).toMatchObject({ status: 'concluida', progresso: 100, resultado: { consultaId: expect.any(String) } });
    await request(b.app).get(`/consultas/${task.body.resultado.consultaId}`).expect(200);
    const list = await request(b.app).get('/sistema/tasks').query({ tipo: 'agendar_consulta', status: 'concluida' }).expect(200);
    expect(list.body.items.map((t: { id: string }) => t.id)).toEqual([res.body.id]);
  }, 120_000);

  it('when a backup is asked on B while one waits on A, then B answers A\'s task (same id and Location) and runs nothing', async () => {
    const { a, b } = await twoProcesses();
    const heldA = holdBackups(a);
    const heldB = holdBackups(b);
    const first = await request(a.app).post('/sistema/tasks/backup').expect(202); // runs (held)
    const waiting = await request(a.app).post('/sistema/tasks/backup').expect(202); // waits behind it
    expect(waiting.body.id).not.toBe(first.body.id);
    const fromB = await request(b.app).post('/sistema/tasks/backup').expect(202);
    expect(fromB.body).toMatchObject({ id: waiting.body.id, status: 'pendente' });
    expect(fromB.headers.location).toBe(waiting.headers.location);
    // Asked on both at once, the waiting task is still the answer.
    const again = await Promise.all([request(a.app).post('/sistema/tasks/backup'), request(b.app).post('/sistema/tasks/backup')]);
    expect(again.map((r) => r.body.id)).toEqual([waiting.body.id, waiting.body.id]);

    heldA.open();
    heldB.open();
    await a.container.queue.onIdle();
    await b.container.queue.onIdle();
    expect(heldA.started).toEqual([first.body.id, waiting.body.id]);
    expect(heldB.spy).not.toHaveBeenCalled();
    // Five requests, two backups: the running one and the one every later request joined.
    expect((await request(b.app).get('/sistema/backups').expect(200)).body).toHaveLength(2);
  }, 120_000);

  it('when two processes\' automatic-backup timers fire at the same moment, then one task is made and one backup written', async () => {
    const { a, b } = await twoProcesses();
    const [fromA, fromB] = await Promise.all([a.container.automaticBackups.tick(), b.container.automaticBackups.tick()]);
    expect(fromA.task.id).toBe(fromB.task.id);
    expect([fromA.joined, fromB.joined].sort()).toEqual([false, true]);
    await a.container.queue.onIdle();
    await b.container.queue.onIdle();
    // The same interval again (the timer of a third process, late in it): still that task, even though it finished.
    const late = await a.container.automaticBackups.tick();
    expect(late).toMatchObject({ joined: true, task: { id: fromA.task.id } });
    await a.container.queue.onIdle();
    const backups = (await request(a.app).get('/sistema/backups').expect(200)).body as { nome: string }[];
    expect(backups).toHaveLength(1);
    expect(isAutomaticName(backups[0]!.nome)).toBe(true);
  }, 120_000);

  it('when the next interval comes, then the timer makes the next automatic backup', async () => {
    const clock = new ManualClock(TEST_NOW);
    const a = await makeApp({ driver: 'postgres', clock, env: { BACKUP_INTERVAL_MIN: '60' } });
    const first = await a.container.automaticBackups.tick();
    await a.container.queue.onIdle();
    clock.set(new Date(TEST_NOW.getTime() + 60 * 60_000));
    const next = await a.container.automaticBackups.tick();
    expect(next.joined).toBe(false);
    expect(next.task.id).not.toBe(first.task.id);
    await a.container.queue.onIdle();
  }, 120_000);

  it('when the owner of a waiting task has not been seen for a while, then the task reads falhou (pt-BR problem) and no longer blocks a backup', async () => {
    const { a, b } = await twoProcesses();
    const id = '3f1c2e4a-8b7d-4c6e-9a5b-1d2e3f4a5b6c';
    const record = { id, tipo: 'backup', status: 'pendente', progresso: 0, criadaEm: '2026-11-30T11:59:00-03:00' };
    // A process that died a minute ago, leaving a waiting backup that holds the key.
    await query(a, "INSERT INTO tarefas_processos (dono, visto_em) VALUES ('morto', now() - interval '1 minute')");
    await query(a, "INSERT INTO tarefas (id, tipo, status, chave, dono, criada_em, registro) VALUES ($1, 'backup', 'pendente', 'backup', 'morto', $2, $3)", [
      id, record.criadaEm, JSON.stringify(record),
    ]);
    const dead = await request(b.app).get(`/sistema/tasks/${id}`).expect(200);
    expect(dead.body).toMatchObject({ ...record, status: 'falhou', erro: { ...ABANDONED, title: 'Processo encerrado' } });
    expect((await request(b.app).get('/sistema/tasks').query({ status: 'pendente' }).expect(200)).body.items).toEqual([]);
    expect((await request(b.app).get('/sistema/tasks').query({ status: 'falhou' }).expect(200)).body.items).toEqual([dead.body]);

    const fresh = await request(a.app).post('/sistema/tasks/backup').expect(202);
    expect(fresh.body.id).not.toBe(id);
    await a.container.queue.onIdle();
    await a.container.queue.published();
    expect((await request(b.app).get(`/sistema/tasks/${fresh.body.id}`).expect(200)).body.status).toBe('concluida');
    expect((await request(b.app).get(`/sistema/tasks/${id}`).expect(200)).body).toEqual(dead.body);
  }, 120_000);

  it('when the owner of a running task stops being seen, then it reads falhou; when that owner finishes it after all, then concluida', async () => {
    const { a, b } = await twoProcesses();
    const held = holdBackups(a);
    const res = await request(a.app).post('/sistema/tasks/backup').expect(202);
    await a.container.queue.published();
    const location = res.headers.location as string;
    expect((await request(b.app).get(location).expect(200)).body.status).toBe('executando');
    // A's last sign of life, a minute old (as after kill -9, or a machine cut off from the database).
    const { dono } = (await query<{ dono: string }>(a, 'SELECT dono FROM tarefas WHERE id = $1', [res.body.id]))[0]!;
    await query(a, "UPDATE tarefas_processos SET visto_em = now() - interval '1 minute' WHERE dono = $1", [dono]);
    expect((await request(b.app).get(location).expect(200)).body).toMatchObject({ id: res.body.id, status: 'falhou', erro: ABANDONED });
    // A answers from its own memory; once it finishes, the board has the truth again.
    expect((await request(a.app).get(location).expect(200)).body.status).toBe('executando');
    held.open();
    await a.container.queue.onIdle();
    await a.container.queue.published();
    expect((await request(b.app).get(location).expect(200)).body).toMatchObject({ status: 'concluida', resultado: { nome: expect.any(String) } });
  }, 120_000);

  it('when the caller has no session or a role without the permission, then 401 / 403; when the id is malformed, then 400 problem+json', async () => {
    const { a } = await twoProcesses();
    const res = await request(a.app).post('/sistema/tasks/backup').expect(202);
    await request(a.rawApp).get(`/sistema/tasks/${res.body.id}`).expect(401).expect('content-type', /application\/problem\+json/);
    const recepcao = await signIn(a.container, 'recepcao');
    await request(a.rawApp).get('/sistema/tasks').set(bearer(recepcao.token)).expect(403).expect('content-type', /application\/problem\+json/);
    await request(a.rawApp).post('/sistema/tasks/backup').set(bearer(recepcao.token)).expect(403);
    // A backup task is the admin's alone: to the receptionist it does not exist (booking tasks she may read).
    await request(a.rawApp).get(`/sistema/tasks/${res.body.id}`).set(bearer(recepcao.token)).expect(404).expect('content-type', /application\/problem\+json/);
    for (const id of ['nada', "1' OR '1'='1", '3f1c2e4a-8b7d-4c6e-9a5b-1d2e3f4a5b6', '3f1c2e4a-8b7d-4c6e-9a5b-1d2e3f4a5b6g', `${res.body.id}x`, '%00', 'ø'.repeat(40)]) {
      const bad = await request(a.app).get(`/sistema/tasks/${encodeURIComponent(id)}`);
      expect(bad.status, id).toBe(400);
      expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(bad.body).toMatchObject({ type: '/problemas/validacao', status: 400 });
    }
    // Well formed but unknown: asked of the board, 404.
    const missing = await request(a.app).get('/sistema/tasks/3f1c2e4a-8b7d-4c6e-9a5b-1d2e3f4a5b6c').expect(404);
    expect(missing.body).toMatchObject({ type: '/problemas/nao-encontrado' });
    await a.container.queue.onIdle();
  }, 120_000);

  it('when more tasks finished than the history keeps, then a prune keeps the newest finished ones, the unfinished ones of live processes, and marked ones', async () => {
    const { a } = await twoProcesses();
    const board = new PgTaskBoard({ pool: (a.container.storage as PgStorage).pool, owner: 'poda' });
    await board.open();
    try {
      const instant = (i: number) => new Date(TEST_NOW.getTime() + i * 1000).toISOString();
      const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const finished: TaskRecord[] = Array.from({ length: BOARD_HISTORY + 5 }, (_, i) => ({
        id: uuid(i), tipo: 'agendar_consulta', status: 'concluida', progresso: 100, criadaEm: instant(i),
      }));
      // The oldest of all, yet waiting (its process is alive) or marked: kept whatever their age in the list.
      const waiting: TaskRecord = { id: uuid(9000), tipo: 'backup', status: 'pendente', progresso: 0, criadaEm: '2026-01-01T00:00:00Z' };
      const marked: TaskRecord = { ...waiting, id: uuid(9001), status: 'concluida' };
      expect(await board.claim(waiting, 'backup', undefined)).toBeUndefined();
      expect(await board.claim({ ...marked, status: 'pendente' }, 'outra', 'automatico:1')).toBeUndefined();
      await board.publish([...finished, marked]); // one statement
      await board.prune();
      const ids = (await query<{ id: string }>(a, 'SELECT id FROM tarefas')).map((r) => r.id);
      expect(ids).toHaveLength(BOARD_HISTORY + 2);
      expect(ids).toEqual(expect.arrayContaining([waiting.id, marked.id, uuid(5), uuid(BOARD_HISTORY + 4)]));
      for (const i of [0, 1, 2, 3, 4]) expect(ids).not.toContain(uuid(i));
      expect(await board.get(uuid(BOARD_HISTORY + 4))).toEqual(finished.at(-1));
    } finally {
      await board.close();
    }
  }, 120_000);
});
