import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { TaskQueue } from '../../src/infra/task-queue.js';
import { silentLogger } from '../helpers/logger.js';

const makeQueue = (options: { historyLimit?: number; maxPending?: number } = {}) =>
  new TaskQueue({ clock: new ManualClock(new Date('2026-11-30T15:00:00Z')), timezone: 'America/Sao_Paulo', logger: silentLogger, ...options });

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('TaskQueue', () => {
  it('when a task runs, then its record goes pendente → executando → concluida with progress and result', async () => {
    const queue = makeQueue();
    const g = gate();
    queue.register<number, number>('backup', async (n, ctx) => {
      ctx.progress(40);
      await g.opened;
      return n * 2;
    }, { concurrency: 1 });
    const first = queue.add<number>('backup', 1);
    const second = queue.add<number>('backup', 2);
    await Promise.resolve();
    expect(first.task).toMatchObject({ status: 'executando', progresso: 40, criadaEm: '2026-11-30T12:00:00-03:00' });
    expect(second.task.status).toBe('pendente');
    g.open();
    expect(await first.done).toBe(2);
    expect(await second.done).toBe(4);
    await queue.onIdle();
    expect(first.task).toMatchObject({ status: 'concluida', progresso: 100, resultado: 2 });
    expect(first.task.concluidaEm).toBeDefined();
    expect(queue.list({ limit: 10 }).map((t) => t.id)).toEqual([second.task.id, first.task.id]);
  });

  it('when a handler throws an AppError, then the task fails with that problem', async () => {
    const queue = makeQueue();
    queue.register('agendar_consulta', async () => {
      throw new AppError('HORARIO_OCUPADO', 'ocupado');
    }, { concurrency: 4 });
    const { task, done } = queue.add('agendar_consulta', {});
    await expect(done).rejects.toBeInstanceOf(AppError);
    expect(task).toMatchObject({ status: 'falhou', erro: { status: 409, type: '/problemas/horario-ocupado', detail: 'ocupado' } });
  });

  it('when lanes differ, then a slow lane does not hold up another', async () => {
    const queue = makeQueue();
    const g = gate();
    queue.register('gerar_relatorio', async () => g.opened, { concurrency: 1 });
    queue.register('agendar_consulta', async () => 'ok', { concurrency: 1 });
    queue.add('gerar_relatorio', {});
    expect(await queue.add('agendar_consulta', {}).done).toBe('ok');
    g.open();
    await queue.onIdle();
  });

  it('when the history passes its bound, then the oldest finished tasks are forgotten', async () => {
    const queue = makeQueue({ historyLimit: 5 });
    queue.register('backup', async () => undefined, { concurrency: 1 });
    const tasks = Array.from({ length: 12 }, () => queue.add('backup', {}).task);
    await queue.onIdle();
    expect(queue.list({ limit: 100 })).toHaveLength(5);
    expect(queue.get(tasks[0]!.id)).toBeUndefined();
    expect(queue.get(tasks[11]!.id)).toBeDefined();
  });

  it('when too many tasks wait, then add refuses with 503 instead of growing without bound', async () => {
    const queue = makeQueue({ maxPending: 3 });
    const g = gate();
    queue.register('backup', async () => g.opened, { concurrency: 1 });
    for (let i = 0; i < 4; i++) queue.add('backup', {}); // one runs, three wait
    expect(() => queue.add('backup', {})).toThrow(expect.objectContaining({ status: 503 }));
    g.open();
    await queue.onIdle();
  });

  it('when one type fills its own bound, then 503 for that type only: other types are still accepted', async () => {
    const queue = makeQueue({ maxPending: 3 });
    const g = gate();
    queue.register('backup', async () => g.opened, { concurrency: 1, maxPending: 2 });
    queue.register('agendar_consulta', async () => 'ok', { concurrency: 4 });
    for (let i = 0; i < 3; i++) queue.add('backup', {}); // one runs, two wait
    expect(() => queue.add('backup', {})).toThrow(expect.objectContaining({ status: 503 }));
    expect(queue.pendingCount).toBe(2);
    const bookings = Array.from({ length: 3 }, () => queue.add('agendar_consulta', {}).done);
    expect(await Promise.all(bookings)).toEqual(['ok', 'ok', 'ok']);
    g.open();
    await queue.onIdle();
  });

  it('when a lane coalesces, then a task asked while one waits is that task (same id, same outcome); a running one is not joined', async () => {
    const queue = makeQueue();
    const g = gate();
    let runs = 0;
    queue.register<{ n: number }, number>('backup', async () => {
      await g.opened;
      return ++runs;
    }, { concurrency: 1, key: () => 'backup' });
    const running = await queue.submit<number>('backup', { n: 1 });
    await Promise.resolve();
    expect(running.task.status).toBe('executando');
    const waiting = await queue.submit<number>('backup', { n: 2 });
    const again = await queue.submit<number>('backup', { n: 3 });
    expect(waiting.joined).toBe(false);
    expect(again).toMatchObject({ joined: true, task: waiting.task });
    expect(running.task.id).not.toBe(waiting.task.id);
    g.open();
    expect(await running.done).toBe(1);
    expect(await again.done).toBe(2);
    await queue.onIdle();
    expect(runs).toBe(2);
    // Once it started, a new request makes a new task.
    expect((await queue.submit('backup', { n: 4 })).task.id).not.toBe(waiting.task.id);
    await queue.onIdle();
  });

  it('when the keys of two payloads differ, then a new task is made; asked at once with one key, then one task', async () => {
    const queue = makeQueue();
    const g = gate();
    queue.register<{ de: string }, string>('gerar_relatorio', async (p) => g.opened.then(() => p.de), {
      concurrency: 1, key: (p) => p.de,
    });
    await queue.submit('gerar_relatorio', { de: '2026-01-01' });
    const a = await queue.submit('gerar_relatorio', { de: '2026-02-01' });
    const b = await queue.submit('gerar_relatorio', { de: '2026-03-01' });
    const c = await queue.submit('gerar_relatorio', { de: '2026-02-01' });
    expect(b.task.id).not.toBe(a.task.id);
    expect(c.task.id).toBe(a.task.id);
    const [d, e] = await Promise.all([queue.submit('gerar_relatorio', { de: '2026-04-01' }), queue.submit('gerar_relatorio', { de: '2026-04-01' })]);
    expect(d.task.id).toBe(e.task.id);
    expect([d.joined, e.joined].sort()).toEqual([false, true]);
    g.open();
    await queue.onIdle();
  });

  it('when a lane coalesces, then add refuses it (submit decides the key)', () => {
    const queue = makeQueue();
    queue.register('backup', async () => undefined, { concurrency: 1, key: () => 'backup' });
    expect(() => queue.add('backup', {})).toThrow(/submit/);
  });

  it('when closed, then waiting tasks fail and new ones are refused', async () => {
    const queue = makeQueue();
    const g = gate();
    queue.register('backup', async () => g.opened, { concurrency: 1 });
    const running = queue.add('backup', {});
    const waiting = queue.add('backup', {});
    const closing = queue.close(50);
    expect(() => queue.add('backup', {})).toThrow(AppError);
    await closing;
    await expect(waiting.done).rejects.toBeInstanceOf(AppError);
    expect(waiting.task.status).toBe('falhou');
    g.open();
    await running.done;
  });
});
