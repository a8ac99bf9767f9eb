import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOne, explore, saveFailure, type Exploration } from './explorer.js';
import { recordRun } from './workload.js';

/**
 * Power-loss proof of the JSON driver (see README, "Storage: why it is safe"). A real run of the store is
 * recorded through its file-system seam; every disk state a power cut could leave at every moment of it is
 * drawn (exhaustively where few, by seeded samples where many) and opened as the server would.
 *
 * POWERLOSS_SEED picks the run's seed (default 20261201); POWERLOSS_STATES the distinct disk images to open.
 * A failure prints its cut, sample and seed and saves the disk image under reports/powerloss/; to replay it,
 * run with the same POWERLOSS_SEED and POWERLOSS_REPLAY=<cut>:<sample>:<seed> (the run is recorded again with the
 * same seed, and that one state is drawn and checked alone).
 */
const SEED = Number(process.env['POWERLOSS_SEED'] ?? 20261201);
const STATES = Number(process.env['POWERLOSS_STATES'] ?? 10_000);
const MUTATION_STATES = Number(process.env['POWERLOSS_MUTATION_STATES'] ?? 1500);
/** Recordings of the run a removed sync gets before it counts as escaping (see the mutation test). */
const MUTATION_RECORDINGS = 3;
const FAILURES_DIR = path.resolve('reports', 'powerloss');

function report(result: Exploration, seed: number): string {
  const lines = result.failures.slice(0, 5).map((f) => {
    const saved = saveFailure(FAILURES_DIR, f);
    return `  corte ${f.cut}, amostra ${f.sample}, semente ${f.seed} (execução ${seed}): ${f.why}\n    estado salvo em ${saved}`;
  });
  return lines.join('\n');
}

const REPLAY = process.env['POWERLOSS_REPLAY'];

describe.runIf(REPLAY)('power loss: one printed crash state, replayed', () => {
  it(`when the state ${REPLAY} is drawn again from the run of seed ${SEED}, then it opens and holds every acknowledged commit`, async () => {
    const [cut, sample, seed] = REPLAY!.split(':').map(Number) as [number, number, number];
    const log = await recordRun(SEED);
    const verdict = await checkOne(log, cut, sample, seed);
    rmSync(log.dir, { recursive: true, force: true });
    expect(verdict).toEqual({ ok: true });
  }, 120_000);
});

describe.skipIf(REPLAY)('power loss: every crash state of a recorded run opens with every acknowledged commit', () => {
  it('when the power is cut at any point of bookings, cancels, checkpoints, a restore and a second writer, then the store opens, holds a prefix of the commits with every acknowledged one, keeps one consulta per slot, and takes a write', async () => {
    const log = await recordRun(SEED);
    const result = await explore(log, { runSeed: SEED, maxStates: STATES });
    rmSync(log.dir, { recursive: true, force: true });
    process.stdout.write(
      [
        `powerloss: ${result.judged} estados de queda checados (${result.statesChecked} imagens de disco distintas abertas) em ${result.cuts} pontos de corte`,
        `powerloss: ${result.acknowledged} commits confirmados de ${result.commits}; ${result.failures.length} falhas; ${(result.ms / 1000).toFixed(1)} s; semente ${SEED}`,
      ].join('\n') + '\n',
    );
    expect(result.failures, report(result, SEED)).toEqual([]);
    expect(result.judged).toBeGreaterThanOrEqual(10_000);
    expect(result.acknowledged).toBeGreaterThan(50);
  }, 600_000);

  it('when each sync point of the store is dropped in turn (mutation mode), then the explorer finds a lost or torn commit for every one the runs reach', async () => {
    const baseline = await recordRun(SEED);
    rmSync(baseline.dir, { recursive: true, force: true });
    const sites = [...baseline.sites.keys()].sort();
    const outcomes: { site: string; caught: boolean; why?: string; recordings: string[] }[] = [];
    for (const site of sites) {
      // The run is real I/O by two stores at once, so its interleaving (which store catches up after whom) can differ
      // from one recording to the next, and with it whether the recording passes where this sync matters. Once (of
      // dozens of CI runs) a site escaped that every local run caught: a site escapes only if it escapes in
      // MUTATION_RECORDINGS recordings. A sync whose loss the explorer cannot see still escapes in every one.
      const outcome: (typeof outcomes)[number] = { site, caught: false, recordings: [] };
      for (let k = 0; k < MUTATION_RECORDINGS && !outcome.caught; k++) {
        const log = await recordRun(SEED, { drop: site });
        const result = await explore(log, { runSeed: SEED, maxStates: MUTATION_STATES, stopAtFirst: true, nearDropped: 40 });
        rmSync(log.dir, { recursive: true, force: true });
        const dropped = log.ops.filter((op) => op.kind === 'dropped').length;
        outcome.recordings.push(`${log.ops.length} ops, ${dropped} syncs removidos, ${result.statesChecked} estados`);
        outcome.caught = result.failures.length > 0;
        if (result.failures[0]) outcome.why = `corte ${result.failures[0].cut}: ${result.failures[0].why}`;
      }
      outcomes.push(outcome);
    }
    const caught = outcomes.filter((o) => o.caught).length;
    process.stdout.write(
      [
        ...outcomes.map(
          (o) =>
            `powerloss mutação: ${o.caught ? 'pega  ' : 'ESCAPA'} ${o.site}${o.why ? ` — ${o.why}` : ''}` +
            (o.recordings.length > 1 || !o.caught ? ` (gravações: ${o.recordings.join('; ')})` : ''),
        ),
        `powerloss mutação: ${sites.length} pontos de sync removidos um a um, ${caught} pegos`,
      ].join('\n') + '\n',
    );
    expect(outcomes.filter((o) => !o.caught).map((o) => o.site)).toEqual([]);
  }, 900_000);
});
