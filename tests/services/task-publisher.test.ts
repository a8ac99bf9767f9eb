import { describe, expect, it, vi } from 'vitest';
import type { TaskBoard } from '../../src/infra/task-board.js';
import { QUIET_MS, TaskPublisher } from '../../src/infra/task-publisher.js';
import type { TaskRecord } from '../../src/infra/task-record.js';
import { silentLogger } from '../helpers/logger.js';

/** A board in memory that records each `publish` statement and can be told to refuse the next ones. */
class RecordingBoard implements TaskBoard {
  readonly owner = 'teste';
  readonly statements: TaskRecord[][] = [];
  readonly rows = new Map<string, TaskRecord>();
  refusals = 0;

  async open(): Promise<void> {}
  async claim(): Promise<string | undefined> {
    return undefined;
  }
  async publish(tasks: readonly TaskRecord[]): Promise<void> {
    if (this.refusals > 0) {
      this.refusals--;
      throw new Error('banco fora do ar');
    }
    this.statements.push([...tasks]);
    for (const task of tasks) this.rows.set(task.id, task);
  }
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.rows.get(id);
  }
  async list(): Promise<TaskRecord[]> {
    return [...this.rows.values()];
  }
  async close(): Promise<void> {}
}

const record = (n: number): TaskRecord => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, tipo: 'agendar_consulta', status: 'pendente', progresso: 0, criadaEm: '2026-11-30T12:00:00-03:00',
});

describe('TaskPublisher', () => {
  it('when a task finishes here before the board has it, then this process writes it before it answers, and never answers ahead of the board', async () => {
    const board = new RecordingBoard();
    const publisher = new TaskPublisher({ board, logger: silentLogger });
    const task = record(900);
    publisher.created(task);
    await publisher.visible(task);
    task.status = 'executando';
    task.progresso = 40;
    publisher.changed(task);
    await publisher.flush();
    // A change not yet written: this process answers what the board has.
    task.progresso = 60;
    publisher.changed(task);
    expect((await publisher.shown(task)).progresso).toBe(40);
    task.status = 'concluida';
    task.progresso = 100;
    publisher.changed(task); // would be written within FLUSH_DELAY_MS
    // The board cannot be written: the answer stays what every other process answers.
    board.refusals = 1;
    expect((await publisher.shown(task)).status).toBe('executando');
    expect(board.rows.get(task.id)!.status).toBe('executando');
    // Once it can: written, then answered.
    const shown = await publisher.shown(task);
    expect(shown.status).toBe('concluida');
    expect(board.rows.get(task.id)!.status).toBe('concluida');
    await publisher.close();
  });

  it('when many records are made and changed at once, then one statement carries the latest state of each', async () => {
    const board = new RecordingBoard();
    const publisher = new TaskPublisher({ board, logger: silentLogger });
    const tasks = Array.from({ length: 50 }, (_, i) => record(i));
    for (const task of tasks) publisher.created(task);
    for (const task of tasks) {
      task.status = 'executando';
      publisher.changed(task);
    }
    await Promise.all(tasks.map((task) => publisher.visible(task)));
    expect(board.statements).toHaveLength(1);
    expect(board.statements[0]!.map((t) => t.status)).toEqual(tasks.map(() => 'executando'));
    // Once written, a record is visible at once; a later change is the next statement.
    await publisher.visible(tasks[0]!);
    tasks[0]!.status = 'concluida';
    publisher.changed(tasks[0]!);
    await publisher.flush();
    expect(board.statements).toHaveLength(2);
    expect(board.rows.get(tasks[0]!.id)!.status).toBe('concluida');
    await publisher.close();
  });

  it('when nobody asks to see a new record, then it is written once, finished — or after QUIET_MS, or at close — and asking writes it at once', async () => {
    const board = new RecordingBoard();
    const publisher = new TaskPublisher({ board, logger: silentLogger });
    // A synchronous booking's task: made, run, finished, and nobody told its id.
    const quick = record(10);
    publisher.created(quick);
    quick.status = 'executando';
    publisher.changed(quick);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(board.statements).toHaveLength(0);
    quick.status = 'concluida';
    publisher.changed(quick);
    await publisher.flush();
    expect(board.statements.map((s) => s.map((t) => t.status))).toEqual([['concluida']]);
    await publisher.visible(quick);

    // One still running is written QUIET_MS after it was made, in its current state, by the publisher's own timer.
    const slow = record(11);
    publisher.created(slow);
    slow.status = 'executando';
    publisher.changed(slow);
    const made = performance.now();
    await vi.waitFor(() => expect(board.rows.get(slow.id)?.status).toBe('executando'), { timeout: 5 * QUIET_MS, interval: 10 });
    expect(performance.now() - made).toBeGreaterThanOrEqual(QUIET_MS - 5);

    // Asked for (a 202 is about to name it): written now, not QUIET_MS later.
    const asked = record(12);
    publisher.created(asked);
    const before = performance.now();
    await publisher.visible(asked);
    expect(performance.now() - before).toBeLessThan(QUIET_MS / 2);
    expect(board.rows.has(asked.id)).toBe(true);

    // Asked for by id (GET /sistema/tasks/{id} on this process): written before it is answered.
    const polled = record(14);
    publisher.created(polled);
    polled.status = 'executando';
    publisher.changed(polled);
    expect((await publisher.shown(polled)).status).toBe('executando');
    expect(board.rows.get(polled.id)?.status).toBe('executando');

    // flush() (the queue's `published`) writes every change so far, quiet records included.
    const flushed = record(15);
    publisher.created(flushed);
    await publisher.flush();
    expect(board.rows.has(flushed.id)).toBe(true);

    // Closing writes what is still quiet.
    const last = record(13);
    publisher.created(last);
    await publisher.close();
    expect(board.rows.get(last.id)?.status).toBe('pendente');
  });

  it('when a flush fails, then its records stay dirty and a later flush writes them (visible waits for it)', async () => {
    const board = new RecordingBoard();
    board.refusals = 2;
    const publisher = new TaskPublisher({ board, logger: silentLogger });
    const task = record(1);
    let seen = false;
    publisher.created(task);
    const visible = publisher.visible(task).then(() => (seen = true));
    await expect(publisher.flush()).rejects.toThrow('banco fora do ar');
    expect(seen).toBe(false);
    task.progresso = 40;
    publisher.changed(task);
    // The retries back off by themselves: the second refusal, then the write.
    await visible;
    expect(board.refusals).toBe(0);
    expect(board.rows.get(task.id)).toMatchObject({ progresso: 40 });
    await publisher.close();
  });

  it('when closed, then what is dirty is written once more; a record never written fails its waiters with 503', async () => {
    const board = new RecordingBoard();
    const publisher = new TaskPublisher({ board, logger: silentLogger });
    const written = record(1);
    publisher.created(written);
    await publisher.visible(written);
    written.status = 'falhou';
    publisher.changed(written);
    board.refusals = 1;
    const lost = record(2);
    publisher.created(lost);
    const waiting = publisher.visible(lost);
    const quiet = record(3); // made, never asked for
    publisher.created(quiet);
    await publisher.close();
    await expect(waiting).rejects.toMatchObject({ status: 503 });
    // Asked for after closing, the one waited for and the quiet one alike: 503, never a success.
    await expect(publisher.visible(lost)).rejects.toMatchObject({ status: 503 });
    await expect(publisher.visible(quiet)).rejects.toMatchObject({ status: 503 });
    // The refused last flush held both: the board keeps the state it had (the board reads it as abandoned later).
    expect(board.rows.get(written.id)!.status).toBe('pendente');
    expect(board.rows.has(lost.id)).toBe(false);
    expect(board.statements).toHaveLength(1);
  });
});
