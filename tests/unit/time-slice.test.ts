import { describe, expect, it } from 'vitest';
import { TimeSlicer } from '../../src/core/time-slice.js';

/**
 * A fake event loop: `now` only moves when a task "works", and each turn of the loop is run by the test, which
 * records how much work happened in it. Nothing here depends on the machine's speed.
 */
function fakeLoop(quantumMs: number) {
  let now = 0;
  let pending: (() => void) | undefined;
  const slicer = new TimeSlicer(
    quantumMs,
    () => now,
    (callback) => {
      pending = callback;
    },
  );
  const log: string[] = [];
  /** A task of `units` units of `unitMs` each, pausing whenever the turn's quantum is spent. */
  function task(name: string, units: number, unitMs: number, fail = false): Promise<void> {
    return slicer.run(async (slice) => {
      for (let i = 0; i < units; i++) {
        if (i > 0 && slice.spent()) await slice.pause(); // as the agenda does: the first day never waits
        now += unitMs;
        log.push(name);
        if (fail && i === 1) throw new Error('falhou');
      }
    });
  }
  /** Runs turns of the loop until no task waits; returns the work (ms) done in each turn. */
  async function runTurns(): Promise<number[]> {
    const perTurn: number[] = [];
    await flush();
    while (pending) {
      const turn = pending;
      pending = undefined;
      const start = now;
      turn();
      await flush();
      perTurn.push(now - start);
    }
    return perTurn;
  }
  return { task, runTurns, log };
}

/** Lets every resumed task run until it pauses or ends (promise continuations only: no timers are involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

describe('TimeSlicer', () => {
  it('when ten long tasks run at once, then each turn of the loop does at most one quantum plus one unit of work in all', async () => {
    const loop = fakeLoop(4);
    // Ten agendas of 31 days, a day costing 0.5 ms: 155 ms of work in all.
    const tasks = Array.from({ length: 10 }, (_, i) => loop.task(`t${i}`, 31, 0.5));
    const perTurn = await loop.runTurns();
    await Promise.all(tasks);
    expect(loop.log).toHaveLength(310);
    // With a budget per task instead of per turn, a turn would hold 10 × 4 ms.
    for (const work of perTurn) expect(work).toBeLessThanOrEqual(4 + 0.5);
    expect(perTurn.reduce((a, b) => a + b, 0)).toBeCloseTo(155 - 0.5 * 10, 5); // the first unit of each ran before any pause
  });

  it('when tasks wait, then the oldest goes first and each finishes in order of arrival', async () => {
    const loop = fakeLoop(4);
    const done: string[] = [];
    const tasks = ['a', 'b', 'c'].map((name) => loop.task(name, 20, 1).then(() => done.push(name)));
    await loop.runTurns();
    await Promise.all(tasks);
    expect(done).toEqual(['a', 'b', 'c']);
    // After the first unit of each (before anyone paused), a runs to its end, then b, then c.
    expect(loop.log.slice(3).join('')).toBe(`${'a'.repeat(19)}${'b'.repeat(19)}${'c'.repeat(19)}`);
  });

  it('when a task ends within a turn, then the next one in line uses what is left of that quantum', async () => {
    const loop = fakeLoop(4);
    const first = loop.task('a', 3, 1); // 1 unit now, then 2 in the first turn, leaving 2 ms
    const second = loop.task('b', 10, 1);
    const perTurn = await loop.runTurns();
    await Promise.all([first, second]);
    expect(perTurn[0]).toBe(4);
    expect(loop.log.slice(0, 6).join('')).toBe('abaabb');
  });

  it('when a task fails while holding the turn, then the next one in line still runs', async () => {
    const loop = fakeLoop(4);
    const failing = loop.task('a', 10, 1, true).catch((error: Error) => error.message);
    const second = loop.task('b', 10, 1);
    await loop.runTurns();
    expect(await failing).toBe('falhou');
    await second;
    expect(loop.log.join('')).toBe(`ab${'a'}${'b'.repeat(9)}`);
  });

  it('when a task never exceeds the quantum, then it never waits for the loop', async () => {
    const loop = fakeLoop(4);
    const perTurn = await Promise.all([loop.task('a', 1, 1), loop.runTurns()]).then(([, turns]) => turns);
    expect(perTurn).toEqual([]);
  });
});
