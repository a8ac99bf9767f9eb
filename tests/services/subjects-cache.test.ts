import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { AppError } from '../../src/core/errors.js';
import { BookingRules } from '../../src/domain/booking-rules.js';
import { SubjectsCache } from '../../src/domain/subjects-cache.js';
import { JsonStorage } from '../../src/infra/storage/json/json-storage.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS, COLLECTIONS } from '../../src/repositories/collections.js';
import type { BookingSubjects, Change, ChangeFeed, ConsultaReads } from '../../src/repositories/port.js';
import { at, bloqueio, consulta, medico, ms, paciente } from '../storage/port-fixtures.js';

/** A feed the test drives: `commit` delivers changes, `reset` a reset of one collection. */
function fakeFeed() {
  const commits = new Set<(changes: readonly Change[]) => void>();
  const resets = new Set<(collection: string) => void>();
  const changes: ChangeFeed = {
    onCommit: (listener) => (commits.add(listener), () => commits.delete(listener)),
    onReset: (listener) => (resets.add(listener), () => resets.delete(listener)),
  };
  return {
    changes,
    listeners: () => commits.size + resets.size,
    commit: (...list: Change[]) => commits.forEach((listener) => listener(list)),
    reset: (collection: string) => resets.forEach((listener) => listener(collection)),
  };
}

/** Committed data that counts its reads and answers each when the test says (or at once). */
function countingReads(answer: (medicoId: string, pacienteId: string) => BookingSubjects) {
  const reads = { count: 0, held: [] as (() => void)[], hold: false };
  const consultas: Pick<ConsultaReads, 'subjectsOf'> = {
    subjectsOf: (medicoId, pacienteId) => {
      reads.count++;
      if (!reads.hold) return Promise.resolve(answer(medicoId, pacienteId));
      return new Promise((resolve) => reads.held.push(() => resolve(answer(medicoId, pacienteId))));
    },
  };
  return { consultas, reads };
}

const m1 = medico();
const m2 = medico();
const p1 = paciente();
const p2 = paciente();
const b1 = bloqueio(m1.id, at('2026-12-02', '10:00'), at('2026-12-02', '11:00'));
const known = (medicoId: string, pacienteId: string): BookingSubjects => ({
  medico: [m1, m2].find((m) => m.id === medicoId),
  paciente: [p1, p2].find((p) => p.id === pacienteId),
  bloqueios: medicoId === m1.id ? [b1] : [],
});
const changed = <T extends { id: string }>(collection: string, before: T | undefined, after: T | undefined): Change => ({
  collection, id: (before ?? after)!.id, before, after,
});

/** A cache over the `known` records, its feed, and the count of its reads of committed data. */
function cacheOf(maxEntries?: number) {
  const feed = fakeFeed();
  const { consultas, reads } = countingReads(known);
  return { feed, reads, cache: new SubjectsCache({ consultas, changes: feed.changes, maxEntries }) };
}

describe('SubjectsCache', () => {
  it('when the same médico and paciente are asked again, then the answer comes from memory, equal to the read', async () => {
    const { reads, cache } = cacheOf();
    expect(await cache.subjectsOf(m1.id, p1.id)).toEqual(known(m1.id, p1.id));
    expect(await cache.subjectsOf(m1.id, p1.id)).toEqual(known(m1.id, p1.id));
    expect(reads.count).toBe(1);
    // Another paciente of a kept médico needs a read (the paciente is not kept yet); then both are.
    await cache.subjectsOf(m1.id, p2.id);
    await cache.subjectsOf(m1.id, p2.id);
    expect(reads.count).toBe(2);
  });

  it('when a médico, a paciente or a bloqueio changes, then only what it touches is read again', async () => {
    const { feed, reads, cache } = cacheOf();
    await cache.subjectsOf(m1.id, p1.id);
    await cache.subjectsOf(m2.id, p2.id);
    expect(reads.count).toBe(2);

    feed.commit(changed(COLLECTIONS.medicos, m1, { ...m1, ativo: false }));
    await cache.subjectsOf(m1.id, p1.id);
    await cache.subjectsOf(m2.id, p2.id);
    expect(reads.count).toBe(3);

    feed.commit(changed(COLLECTIONS.pacientes, p2, undefined));
    await cache.subjectsOf(m1.id, p1.id);
    await cache.subjectsOf(m2.id, p2.id);
    expect(reads.count).toBe(4);

    // A bloqueio moved from m1 to m2 (a change names both): both médicos' bloqueios are read again.
    feed.commit(changed(COLLECTIONS.bloqueios, b1, { ...b1, medicoId: m2.id }));
    await cache.subjectsOf(m1.id, p1.id);
    await cache.subjectsOf(m2.id, p2.id);
    expect(reads.count).toBe(6);

    // Consultas change with every booking: they touch nothing kept here.
    feed.commit(changed(COLLECTIONS.consultas, undefined, { id: 'c1' }));
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(6);
  });

  it('when a change arrives while a read is on its way, then that read is answered but not kept', async () => {
    const { feed, reads, cache } = cacheOf();
    reads.hold = true;
    const pending = cache.subjectsOf(m1.id, p1.id);
    feed.commit(changed(COLLECTIONS.medicos, m1, m1));
    reads.held.shift()!();
    expect(await pending).toEqual(known(m1.id, p1.id));
    reads.hold = false;
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(2);
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(2);
  });

  it('when a record is not found, then nothing is kept of it', async () => {
    const { reads, cache } = cacheOf();
    expect(await cache.subjectsOf('nenhum', p1.id)).toEqual({ medico: undefined, paciente: p1, bloqueios: [] });
    expect(await cache.subjectsOf(m1.id, 'nenhum')).toEqual({ medico: m1, paciente: undefined, bloqueios: [b1] });
    await cache.subjectsOf('nenhum', p1.id);
    await cache.subjectsOf(m1.id, 'nenhum');
    expect(reads.count).toBe(4);
  });

  it('when the feed resets médicos, pacientes or bloqueios, then everything is read again; other resets keep it', async () => {
    const { feed, reads, cache } = cacheOf();
    await cache.subjectsOf(m1.id, p1.id);
    feed.reset(COLLECTIONS.consultas);
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(1);
    for (const collection of [COLLECTIONS.medicos, COLLECTIONS.pacientes, COLLECTIONS.bloqueios]) {
      feed.reset(collection);
      await cache.subjectsOf(m1.id, p1.id);
    }
    expect(reads.count).toBe(4);
  });

  it('when stopped, then it stops listening to the feed and lets go of what it kept', async () => {
    const { feed, reads, cache } = cacheOf();
    expect(feed.listeners()).toBe(2);
    await cache.subjectsOf(m1.id, p1.id);
    cache.stop();
    expect(feed.listeners()).toBe(0);
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(2);
  });

  it('when it holds maxEntries records, then it starts over instead of growing', async () => {
    const { reads, cache } = cacheOf(3);
    await cache.subjectsOf(m1.id, p1.id); // 2 kept
    await cache.subjectsOf(m1.id, p2.id); // 3 kept
    await cache.subjectsOf(m2.id, p2.id); // full: starts over, then keeps m2 and p2
    await cache.subjectsOf(m2.id, p2.id);
    expect(reads.count).toBe(3);
    await cache.subjectsOf(m1.id, p1.id);
    expect(reads.count).toBe(4);
  });
});

describe('BookingRules with kept subjects (the early checks)', () => {
  const wednesday9 = ms(at('2026-12-02', '09:00'));

  async function setup(kept: (medicoId: string, pacienteId: string) => BookingSubjects) {
    const storage = new JsonStorage(new MemoryStore(ALL_COLLECTIONS));
    await storage.run(async (tx) => {
      await tx.medicos.save(m1);
      await tx.pacientes.save(p1);
    });
    let storageReads = 0;
    const counted = { ...storage, consultas: { ...storage.consultas, subjectsOf: (m: string, p: string) => (storageReads++, storage.consultas.subjectsOf(m, p)) } };
    const { consultas, reads } = countingReads(kept);
    const rules = new BookingRules({
      storage: counted, clock: new ManualClock(new Date('2026-11-30T12:00:00Z')), timezone: 'America/Sao_Paulo', horizonDays: 90, subjects: consultas,
      // As the app's (composition): a bloqueio over the span refuses it.
      blockedReason: async (reads, medicoId) => {
        const bloqueios = await reads.bloqueios.ofMedico(medicoId);
        return (fromMs, toMs) => bloqueios.find((b) => Date.parse(b.inicio) < toMs && Date.parse(b.fim) > fromMs)?.motivo;
      },
    });
    return { rules, storage, kept: reads, storageReads: () => storageReads };
  }

  it('when the kept records accept, then the early check asks storage nothing; inside a unit of work it always does', async () => {
    const { rules, storage, kept, storageReads } = await setup(() => ({ medico: m1, paciente: p1, bloqueios: [] }));
    const { slot } = await rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 });
    expect(slot).toEqual({ inicioMs: wednesday9, fimMs: wednesday9 + 30 * 60_000 });
    expect([kept.count, storageReads()]).toEqual([1, 0]);
    await storage.run((tx) => rules.slotFor({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 }, tx));
    expect(kept.count).toBe(1);
  });

  it('when the kept médico is stale and refuses (inactive, other hours), then storage is asked and its acceptance stands', async () => {
    for (const stale of [{ ...m1, ativo: false }, { ...m1, horarios: [{ diaSemana: 3, inicio: '14:00', fim: '18:00' }] }]) {
      const { rules, kept, storageReads } = await setup(() => ({ medico: stale, paciente: p1, bloqueios: [] }));
      const { slot } = await rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 });
      expect(slot.inicioMs).toBe(wednesday9);
      expect([kept.count, storageReads()]).toEqual([1, 1]);
    }
  });

  it("when the kept médico's duration is stale, then a conflict of the wrong span is asked again on committed data", async () => {
    // Kept: 60-minute consultas, so 09:00 would run into the paciente's 09:30 with another médico. Committed: 30.
    const { rules, storage, storageReads } = await setup(() => ({ medico: { ...m1, duracaoConsultaMin: 60 }, paciente: p1, bloqueios: [] }));
    await storage.run(async (tx) => {
      await tx.medicos.save(m2);
      await tx.consultas.save(consulta(m2.id, p1.id, at('2026-12-02', '09:30'), at('2026-12-02', '10:00')));
    });
    const { slot, holder } = await rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 });
    expect(slot).toEqual({ inicioMs: wednesday9, fimMs: wednesday9 + 30 * 60_000 });
    expect(holder).toBeUndefined();
    expect(storageReads()).toBe(1);
    // With committed data saying 60 minutes as well, the paciente's conflict stands.
    await storage.run((tx) => tx.medicos.save({ ...m1, duracaoConsultaMin: 60 }));
    await expect(rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 })).rejects.toMatchObject({ code: 'CONFLITO_PACIENTE' });
  });

  it("when the kept médico's duration is stale, then a holder found over the wrong span is asked again on committed data", async () => {
    // Kept: 60 minutes, so 09:00 would reach the médico's own 09:30 consulta and the reservation would refuse it.
    const { rules, storage, storageReads } = await setup(() => ({ medico: { ...m1, duracaoConsultaMin: 60 }, paciente: p1, bloqueios: [] }));
    const at930 = consulta(m1.id, p2.id, at('2026-12-02', '09:30'), at('2026-12-02', '10:00'));
    await storage.run((tx) => tx.consultas.save(at930));
    const { slot, holder } = await rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 });
    expect(slot.fimMs - slot.inicioMs).toBe(30 * 60_000);
    expect(holder).toBeUndefined();
    expect(storageReads()).toBe(1);
    // Committed data agreeing: the holder stands.
    await storage.run((tx) => tx.medicos.save({ ...m1, duracaoConsultaMin: 60 }));
    expect((await rules.earlyRegular({ medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 })).holder?.id).toBe(at930.id);
  });

  it("when the kept médico's encaixe limit is stale, then the limit is counted again on committed data", async () => {
    const { rules, storage, storageReads } = await setup(() => ({ medico: { ...m1, maxEncaixesDia: 1 }, paciente: p1, bloqueios: [] }));
    await storage.run((tx) => tx.consultas.save(consulta(m1.id, p2.id, at('2026-12-02', '08:05'), at('2026-12-02', '08:20'), 'agendada', { encaixe: true })));
    const encaixe = { medicoId: m1.id, pacienteId: p1.id, inicioMs: ms(at('2026-12-02', '10:05')), duracaoMin: 15 };
    expect((await rules.earlyEncaixe(encaixe)).slot.inicioMs).toBe(encaixe.inicioMs); // committed: 2 a day
    expect(storageReads()).toBe(1);
    await storage.run((tx) => tx.medicos.save({ ...m1, maxEncaixesDia: 1 }));
    await expect(rules.earlyEncaixe(encaixe)).rejects.toMatchObject({ code: 'REGRA_AGENDAMENTO' });
  });

  it('when both refuse, then the refusal is the one storage gives', async () => {
    const { rules, storageReads } = await setup(() => ({ medico: { ...m1, ativo: false }, paciente: p1, bloqueios: [] }));
    const refusal = await rules.earlyRegular({ medicoId: m1.id, pacienteId: 'nenhum', inicioMs: wednesday9 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: 'REFERENCIA_INVALIDA', message: 'Paciente inexistente.' });
    expect(storageReads()).toBe(1);
  });

  it('when a kept bloqueio is stale, then an encaixe is asked of storage too, and the kept acceptance of a bloqueio storage has is left to the unit of work', async () => {
    const encaixe = { medicoId: m1.id, pacienteId: p1.id, inicioMs: wednesday9 + 5 * 60_000, duracaoMin: 15 };
    const stale = bloqueio(m1.id, at('2026-12-02', '08:00'), at('2026-12-02', '12:00'));
    const refusing = await setup(() => ({ medico: m1, paciente: p1, bloqueios: [stale] }));
    expect((await refusing.rules.earlyEncaixe(encaixe)).slot.inicioMs).toBe(encaixe.inicioMs);
    expect(refusing.storageReads()).toBe(1);

    const accepting = await setup(() => ({ medico: m1, paciente: p1, bloqueios: [] }));
    await accepting.storage.run((tx) => tx.bloqueios.save(stale));
    expect((await accepting.rules.earlyEncaixe(encaixe)).slot.inicioMs).toBe(encaixe.inicioMs);
    await expect(accepting.storage.run((tx) => accepting.rules.encaixeFor(encaixe, tx))).rejects.toMatchObject({ code: 'REGRA_AGENDAMENTO' });
  });
});
