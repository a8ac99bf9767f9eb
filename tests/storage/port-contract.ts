import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import { PURGE_CHUNK, purgeInChunks } from '../../src/services/purge.js';
import type { Change, Entity, StoragePort, UnitOfWork } from '../../src/repositories/port.js';
import type { Consulta } from '../../src/schemas/consulta.schema.js';
import {
  at, bloqueio, byInicioThenId, byNameThenId, consulta, feriado, idempotency, listaEspera, medico, ms, paciente, sessao, staged, usuario,
} from './port-fixtures.js';

/** Makes a fresh, opened, empty storage of one driver. */
export type MakeStorage = () => Promise<StoragePort>;

const ids = (records: readonly Entity[]): string[] => records.map((r) => r.id);
const DAY = '2027-03-10';
const NEXT_DAY = '2027-03-11';

/** Saves records in one unit of work (every collection's `save` has the same shape). */
async function seed(storage: StoragePort, write: (tx: UnitOfWork) => Promise<unknown>[]): Promise<void> {
  await storage.run(async (tx) => {
    for (const promise of write(tx)) await promise;
  });
}

/** Every record of every collection, by collection and id, through an export. */
async function dump(storage: StoragePort): Promise<Record<string, Entity[]>> {
  const snapshot = await storage.exportRecords();
  try {
    const out: Record<string, Entity[]> = {};
    for (const collection of storage.collections) {
      out[collection] = [];
      for await (const record of snapshot.records(collection)) out[collection].push(record);
    }
    return out;
  } finally {
    await snapshot.close();
  }
}

/**
 * The behaviour every driver of the storage port must have, as one suite run against each of them. What the
 * JSON driver does is the reference; where the port leaves an order open, the tests compare as sets.
 */
export function describePortContract(name: string, makeStorage: MakeStorage): void {
  describe(`storage port contract: ${name}`, () => {
    const opened: StoragePort[] = [];
    const make = async (): Promise<StoragePort> => {
      const storage = await makeStorage();
      opened.push(storage);
      return storage;
    };

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('médicos and pacientes', () => {
      const nomes = ['Zé Carlos', 'Álvaro Souza', 'alvaro souza', 'Ana Lima', 'ana lima', 'Ângela Reis', 'Émerson Dias', 'eduardo Melo', 'Bruno Costa', 'Carla Nunes', 'Carla Nunes'];

      it('when médicos are listed, then they come by name in pt-BR order, then id, with filters that ignore case and accents', async () => {
        const storage = await make();
        const medicos = nomes.map((nome, i) => medico({ nome, especialidade: i % 2 === 0 ? 'Cardiologia' : 'Clínica Médica', ativo: i !== 3 }));
        await seed(storage, (tx) => medicos.map((m) => tx.medicos.save(m)));
        const sorted = [...medicos].sort(byNameThenId);

        const all = await storage.medicos.list({ limit: 100, offset: 0 });
        expect(ids(all.items)).toEqual(ids(sorted));
        expect(all.total).toBe(medicos.length);
        expect(ids(await storage.medicos.all())).toEqual(ids(sorted));

        const alvaro = await storage.medicos.list({ q: 'ALVARO', limit: 100, offset: 0 });
        expect(alvaro.items.map((m) => m.nome).sort()).toEqual(['alvaro souza', 'Álvaro Souza'].sort());
        const clinica = await storage.medicos.list({ especialidade: 'clinica medica', limit: 100, offset: 0 });
        expect(ids(clinica.items)).toEqual(ids(sorted.filter((m) => m.especialidade === 'Clínica Médica')));
        // Exact especialidade, not a part of it.
        expect((await storage.medicos.list({ especialidade: 'clinica', limit: 100, offset: 0 })).total).toBe(0);
        const inativos = await storage.medicos.list({ ativo: false, limit: 100, offset: 0 });
        expect(ids(inativos.items)).toEqual([medicos[3]!.id]);
        const combined = await storage.medicos.list({ q: 'a', especialidade: 'CARDIOLOGIA', ativo: true, limit: 100, offset: 0 });
        expect(ids(combined.items)).toEqual(ids(sorted.filter((m) => m.especialidade === 'Cardiologia' && m.ativo && /a/i.test(m.nome.normalize('NFD').replace(/\p{Diacritic}/gu, '')))));
      });

      it('when names differ only in accents, case, spaces or punctuation, then the order is still pt-BR collation, then id', async () => {
        const storage = await make();
        const tricky = [
          "D'Ávila Neto", 'Dávila Neto', 'da Silva', 'Da Silva', 'DA SILVA', 'daSilva', 'Çélia', 'Celia', 'Célia', 'Cecília', 'Ana-Maria', 'Ana Maria',
          'Anamaria', 'Ana  Maria', 'ana maria', 'Ânia', 'Aña', 'Ana', 'Ana1', 'Ana 2', 'Ana 10', 'Zoe', 'Zoé', 'Zoë', 'Érico', 'Erico', 'Ética', 'Ó', 'ô', 'O',
        ];
        const pacientes = tricky.map((nome) => paciente({ nome }));
        await seed(storage, (tx) => pacientes.map((p) => tx.pacientes.save(p)));
        const listed = await storage.pacientes.list({ limit: 100, offset: 0 });
        expect(listed.items.map((p) => p.nome)).toEqual([...pacientes].sort(byNameThenId).map((p) => p.nome));
      });

      it('when a page is cut, then total counts every match, and a page past the end is empty with the same total', async () => {
        const storage = await make();
        const medicos = nomes.map((nome) => medico({ nome }));
        await seed(storage, (tx) => medicos.map((m) => tx.medicos.save(m)));
        const sorted = [...medicos].sort(byNameThenId);
        const page = await storage.medicos.list({ limit: 3, offset: 4 });
        expect(page).toMatchObject({ total: medicos.length, limit: 3, offset: 4 });
        expect(ids(page.items)).toEqual(ids(sorted.slice(4, 7)));
        const past = await storage.medicos.list({ limit: 3, offset: 50 });
        expect(past).toEqual({ items: [], total: medicos.length, limit: 3, offset: 50 });
        const none = await storage.medicos.list({ q: 'ninguém', limit: 3, offset: 0 });
        expect(none).toEqual({ items: [], total: 0, limit: 3, offset: 0 });
      });

      it('when a search holds LIKE wildcards, then they match only themselves', async () => {
        const storage = await make();
        const percent = medico({ nome: 'Clínica 100% Saúde' });
        const plain = medico({ nome: 'Clínica 1000 Saúde' });
        const underscore = paciente({ nome: 'Maria_Silva' });
        const other = paciente({ nome: 'Maria Silva' });
        await seed(storage, (tx) => [tx.medicos.save(percent), tx.medicos.save(plain), tx.pacientes.save(underscore), tx.pacientes.save(other)]);
        expect(ids((await storage.medicos.list({ q: '0%', limit: 10, offset: 0 })).items)).toEqual([percent.id]);
        expect(ids((await storage.pacientes.list({ q: 'a_s', limit: 10, offset: 0 })).items)).toEqual([underscore.id]);
      });

      it('when a médico is saved again or removed, then reads follow, CRM lookups included', async () => {
        const storage = await make();
        const m = medico({ crm: '123456SP' });
        await seed(storage, (tx) => [tx.medicos.save(m)]);
        expect(await storage.medicos.get(m.id)).toEqual(m);
        expect(await storage.medicos.findByCrm('123456SP')).toEqual(m);
        const changed = { ...m, crm: '654321RJ', nome: 'Outro Nome' };
        await seed(storage, (tx) => [tx.medicos.save(changed)]);
        expect(await storage.medicos.get(m.id)).toEqual(changed);
        expect(await storage.medicos.findByCrm('123456SP')).toBeUndefined();
        expect(await storage.medicos.findByCrm('654321RJ')).toEqual(changed);
        await seed(storage, (tx) => [tx.medicos.remove(m.id)]);
        expect(await storage.medicos.get(m.id)).toBeUndefined();
        expect(await storage.medicos.findByCrm('654321RJ')).toBeUndefined();
        expect((await storage.medicos.list({ limit: 10, offset: 0 })).total).toBe(0);
      });

      it('when pacientes are listed, then by name, with the CPF filter exact (the name search does not apply with it) and `only` restricting ids', async () => {
        const storage = await make();
        const pacientes = nomes.map((nome) => paciente({ nome }));
        await seed(storage, (tx) => pacientes.map((p) => tx.pacientes.save(p)));
        const sorted = [...pacientes].sort(byNameThenId);
        expect(ids((await storage.pacientes.list({ limit: 100, offset: 0 })).items)).toEqual(ids(sorted));
        const target = pacientes[5]!;
        expect(await storage.pacientes.findByCpf(target.cpf)).toEqual(target);
        expect(ids((await storage.pacientes.list({ cpf: target.cpf, q: 'não combina', limit: 10, offset: 0 })).items)).toEqual([target.id]);
        expect((await storage.pacientes.list({ cpf: '00000000000', limit: 10, offset: 0 })).total).toBe(0);
        const only = new Set([pacientes[0]!.id, pacientes[1]!.id, pacientes[2]!.id]);
        const mine = await storage.pacientes.list({ only, limit: 10, offset: 0 });
        expect(ids(mine.items)).toEqual(ids(sorted.filter((p) => only.has(p.id))));
        expect((await storage.pacientes.list({ only, q: 'SOUZA', limit: 10, offset: 0 })).items.map((p) => p.nome)).toEqual(['alvaro souza', 'Álvaro Souza'].filter((n) => pacientes.slice(0, 3).some((p) => p.nome === n)));
        expect((await storage.pacientes.list({ only: new Set(), limit: 10, offset: 0 })).total).toBe(0);
        expect((await storage.pacientes.list({ only, cpf: target.cpf, limit: 10, offset: 0 })).total).toBe(0);
      });
    });

    describe('consultas', () => {
      /** Two médicos and three pacientes with consultas of every kind, none breaking a rule a database may enforce. */
      async function agenda(storage: StoragePort) {
        const [m1, m2] = [medico(), medico()];
        const [p1, p2, p3] = [paciente(), paciente(), paciente()];
        const c = {
          c1: consulta(m1.id, p1.id, at(DAY, '09:00'), at(DAY, '09:30')),
          c2: consulta(m1.id, p2.id, at(DAY, '09:30'), at(DAY, '10:00'), 'confirmada'),
          c3: consulta(m1.id, p3.id, at(DAY, '09:00'), at(DAY, '09:30'), 'cancelada'),
          c4: consulta(m1.id, p3.id, at(DAY, '09:10'), at(DAY, '09:25'), 'agendada', { encaixe: true }),
          c5: consulta(m2.id, p1.id, at(DAY, '11:00'), at(DAY, '11:30'), 'realizada'),
          c6: consulta(m2.id, p1.id, at(DAY, '11:15'), at(DAY, '11:45'), 'cancelada', { encaixe: true }),
          c7: consulta(m1.id, p1.id, at(NEXT_DAY, '08:00'), at(NEXT_DAY, '08:30'), 'faltou'),
          c8: consulta(m2.id, p3.id, at(NEXT_DAY, '10:00'), at(NEXT_DAY, '10:30'), 'em_atendimento'),
        };
        await seed(storage, (tx) => [
          tx.medicos.save(m1), tx.medicos.save(m2), tx.pacientes.save(p1), tx.pacientes.save(p2), tx.pacientes.save(p3),
          ...Object.values(c).map((x) => tx.consultas.save(x)),
        ]);
        return { m1, m2, p1, p2, p3, ...c };
      }

      it("when a médico's consultas are read by range, then those starting in [from, to) come by start, then id", async () => {
        const storage = await make();
        const a = await agenda(storage);
        expect(ids(await storage.consultas.forMedicoBetween(a.m1.id, ms(at(DAY, '09:00')), ms(at(DAY, '09:30'))))).toEqual(ids([a.c1, a.c3, a.c4].sort(byInicioThenId)));
        expect(ids(await storage.consultas.forMedicoBetween(a.m1.id, ms(at(DAY, '09:30')), ms(at(DAY, '10:00'))))).toEqual([a.c2.id]);
        expect(await storage.consultas.forMedicoBetween(a.m1.id, ms(at(DAY, '09:00')), ms(at(DAY, '09:00')))).toEqual([]);
        expect(ids(await storage.consultas.forMedicoBetween(a.m1.id, -Infinity, Infinity))).toEqual(ids([a.c1, a.c2, a.c3, a.c4, a.c7].sort(byInicioThenId)));
        expect(await storage.consultas.get(a.c4.id)).toEqual(a.c4);
      });

      it('when conflicts are asked, then only slot holders of the médico overlap (not cancelled, not encaixes), minus exceptId', async () => {
        const storage = await make();
        const a = await agenda(storage);
        const conflict = (medicoId: string, from: string, to: string, except?: string) =>
          storage.consultas.medicoConflict(medicoId, ms(from), ms(to), except).then((c) => c?.id);
        expect(await conflict(a.m1.id, at(DAY, '09:15'), at(DAY, '09:45'))).toBe(a.c1.id);
        expect(await conflict(a.m1.id, at(DAY, '10:00'), at(DAY, '10:30'))).toBeUndefined();
        expect(await conflict(a.m1.id, at(DAY, '08:30'), at(DAY, '09:00'))).toBeUndefined();
        expect(await conflict(a.m1.id, at(DAY, '09:00'), at(DAY, '09:30'), a.c1.id)).toBeUndefined();
        expect(await conflict(a.m2.id, at(DAY, '11:00'), at(DAY, '11:30'))).toBe(a.c5.id);
        expect(await conflict(a.m2.id, at(DAY, '11:30'), at(DAY, '11:45'))).toBeUndefined();
        expect(await conflict(a.m2.id, at(NEXT_DAY, '10:29'), at(NEXT_DAY, '10:31'))).toBe(a.c8.id);
      });

      it('when paciente conflicts are asked, then pendente consultas of any médico count, encaixes too, minus exceptId', async () => {
        const storage = await make();
        const a = await agenda(storage);
        const conflict = (pacienteId: string, from: string, to: string, except?: string) =>
          storage.consultas.pacienteConflict(pacienteId, ms(from), ms(to), except).then((c) => c?.id);
        expect(await conflict(a.p1.id, at(DAY, '09:00'), at(DAY, '09:30'))).toBe(a.c1.id);
        expect(await conflict(a.p1.id, at(DAY, '11:00'), at(DAY, '11:45'))).toBeUndefined();
        expect(await conflict(a.p3.id, at(DAY, '09:00'), at(DAY, '09:30'))).toBe(a.c4.id);
        expect(await conflict(a.p3.id, at(DAY, '09:00'), at(DAY, '09:30'), a.c4.id)).toBeUndefined();
        expect(await conflict(a.p3.id, at(NEXT_DAY, '10:00'), at(NEXT_DAY, '10:30'))).toBe(a.c8.id);
        expect(await conflict(a.p1.id, at(NEXT_DAY, '08:00'), at(NEXT_DAY, '08:30'))).toBeUndefined();
      });

      it('when both conflicts of a span are asked in one read, then each is what its own read answers', async () => {
        const storage = await make();
        const a = await agenda(storage);
        const spans: [string, string, string?][] = [
          [at(DAY, '09:00'), at(DAY, '09:30')], [at(DAY, '09:15'), at(DAY, '09:45')], [at(DAY, '09:00'), at(DAY, '09:30'), a.c1.id],
          [at(DAY, '09:00'), at(DAY, '09:30'), a.c4.id], [at(DAY, '11:00'), at(DAY, '11:45')], [at(NEXT_DAY, '10:00'), at(NEXT_DAY, '10:31')],
          [at(NEXT_DAY, '08:00'), at(NEXT_DAY, '08:30')],
        ];
        let found = 0;
        for (const medico of [a.m1, a.m2]) {
          for (const paciente of [a.p1, a.p2, a.p3]) {
            for (const [from, to, except] of spans) {
              const both = await storage.consultas.conflictsAt(medico.id, paciente.id, ms(from), ms(to), except);
              expect(both).toEqual({
                medico: await storage.consultas.medicoConflict(medico.id, ms(from), ms(to), except),
                paciente: await storage.consultas.pacienteConflict(paciente.id, ms(from), ms(to), except),
              });
              if (both.medico && both.paciente) found++;
            }
          }
        }
        expect(found).toBeGreaterThan(0); // some spans find both at once
        expect(await storage.consultas.conflictsAt("'; DROP TABLE consultas; --", 'nenhum', ms(at(DAY, '09:00')), ms(at(DAY, '09:30')))).toEqual({
          medico: undefined, paciente: undefined,
        });
      });

      it('when encaixes, future pendentes and references are asked, then the answers follow the status rules', async () => {
        const storage = await make();
        const a = await agenda(storage);
        const dayStart = ms(at(DAY, '00:00'));
        const nextStart = ms(at(NEXT_DAY, '00:00'));
        expect(ids(await storage.consultas.encaixesBetween(a.m1.id, dayStart, nextStart))).toEqual([a.c4.id]);
        expect(await storage.consultas.encaixesBetween(a.m2.id, dayStart, nextStart)).toEqual([]);
        expect(await storage.consultas.medicoHasFuturePendente(a.m1.id, ms(at(DAY, '09:00')))).toBe(true);
        // Strictly after: the confirmada of 09:30 does not count at 09:30, and a faltou never does.
        expect(await storage.consultas.medicoHasFuturePendente(a.m1.id, ms(at(DAY, '09:30')))).toBe(false);
        expect(await storage.consultas.pacienteHasFuturePendente(a.p2.id, ms(at(DAY, '09:30')) - 1)).toBe(true);
        expect(await storage.consultas.pacienteHasFuturePendente(a.p2.id, ms(at(DAY, '09:30')))).toBe(false);
        expect(await storage.consultas.medicoHasAny(a.m2.id)).toBe(true);
        expect(await storage.consultas.medicoHasAny(medico().id)).toBe(false);
        expect(ids(await storage.consultas.ofPaciente(a.p1.id))).toEqual([a.c1.id, a.c5.id, a.c6.id, a.c7.id]);
        expect(await storage.consultas.pacienteSeenBy(a.p1.id, a.m2.id)).toBe(true);
        expect(await storage.consultas.pacienteSeenBy(a.p2.id, a.m2.id)).toBe(false);
        expect(await storage.consultas.pacienteIdsOf(a.m1.id)).toEqual(new Set([a.p1.id, a.p2.id, a.p3.id]));
        expect(await storage.consultas.pacienteIdsOf(medico().id)).toEqual(new Set());
      });

      it('when consultas are listed, then by start then id, with inclusive bounds, filters combined and totals', async () => {
        const storage = await make();
        const a = await agenda(storage);
        const every = [a.c1, a.c2, a.c3, a.c4, a.c5, a.c6, a.c7, a.c8].sort(byInicioThenId);
        const all = await storage.consultas.list({ limit: 100, offset: 0 });
        expect(ids(all.items)).toEqual(ids(every));
        expect(all.total).toBe(8);
        const page = await storage.consultas.list({ limit: 2, offset: 3 });
        expect(ids(page.items)).toEqual(ids(every.slice(3, 5)));
        expect(page.total).toBe(8);
        expect(await storage.consultas.list({ limit: 2, offset: 30 })).toEqual({ items: [], total: 8, limit: 2, offset: 30 });
        expect(ids((await storage.consultas.list({ medicoId: a.m1.id, status: 'cancelada', limit: 10, offset: 0 })).items)).toEqual([a.c3.id]);
        expect(ids((await storage.consultas.list({ pacienteId: a.p1.id, medicoId: a.m2.id, limit: 10, offset: 0 })).items)).toEqual([a.c5.id, a.c6.id]);
        const ranged = await storage.consultas.list({ fromMs: ms(at(DAY, '09:30')), toMs: ms(at(DAY, '11:00')), limit: 10, offset: 0 });
        expect(ids(ranged.items)).toEqual([a.c2.id, a.c5.id]);
        expect((await storage.consultas.list({ fromMs: ms(at(NEXT_DAY, '00:00')), limit: 10, offset: 0 })).total).toBe(2);
        expect((await storage.consultas.list({ toMs: ms(at(DAY, '09:00')), limit: 10, offset: 0 })).total).toBe(2);
        // Empty filters filter nothing.
        expect((await storage.consultas.list({ medicoId: '', pacienteId: '', limit: 10, offset: 0 })).total).toBe(8);
      });

      it('when a consulta written before v2 lacks encaixe and chegouEm, then get and list read them as false and null', async () => {
        const storage = await make();
        const m = medico();
        const p = paciente();
        const { encaixe: _e, chegouEm: _c, ...legacy } = consulta(m.id, p.id, at(DAY, '14:00'), at(DAY, '14:30'));
        await seed(storage, (tx) => [tx.medicos.save(m), tx.pacientes.save(p), tx.consultas.save(legacy as Consulta)]);
        expect(await storage.consultas.get(legacy.id)).toEqual({ ...legacy, encaixe: false, chegouEm: null });
        expect((await storage.consultas.list({ limit: 10, offset: 0 })).items).toEqual([{ ...legacy, encaixe: false, chegouEm: null }]);
        // It holds its slot like any regular consulta.
        expect((await storage.consultas.medicoConflict(m.id, ms(at(DAY, '14:00')), ms(at(DAY, '14:30'))))?.id).toBe(legacy.id);
      });
    });

    describe('the other collections', () => {
      it('when usuários are read, then by e-mail, count, the last-admin rule and a name-ordered page', async () => {
        const storage = await make();
        const admin = usuario({ nome: 'Zuleica', papel: 'admin' });
        const inativo = usuario({ nome: 'Ana', papel: 'admin', ativo: false });
        const recepcao = usuario({ nome: 'Érica' });
        const outra = usuario({ nome: 'bianca' });
        await seed(storage, (tx) => [admin, inativo, recepcao, outra].map((u) => tx.usuarios.save(u)));
        expect(await storage.usuarios.findByEmail(recepcao.email)).toEqual(recepcao);
        expect(await storage.usuarios.findByEmail('ninguem@clinica.local')).toBeUndefined();
        expect(await storage.usuarios.count()).toBe(4);
        expect(await storage.usuarios.hasOtherActiveAdmin(admin.id)).toBe(false);
        expect(await storage.usuarios.hasOtherActiveAdmin(recepcao.id)).toBe(true);
        const page = await storage.usuarios.list(2, 1);
        expect(ids(page.items)).toEqual(ids([admin, inativo, recepcao, outra].sort(byNameThenId).slice(1, 3)));
        expect(page.total).toBe(4);
      });

      it("when a booking's subjects are read together, then they are what the three separate reads answer, inside a unit of work too", async () => {
        const storage = await make();
        const m = medico();
        const p = paciente();
        const outro = medico();
        const b2 = bloqueio(m.id, at(DAY, '14:00'), at(DAY, '18:00'));
        const b1 = bloqueio(m.id, at(DAY, '08:00'), at(DAY, '12:00'));
        const alheio = bloqueio(outro.id, at(DAY, '08:00'), at(DAY, '12:00'));
        await seed(storage, (tx) => [tx.medicos.save(m), tx.medicos.save(outro), tx.pacientes.save(p), tx.bloqueios.save(b2), tx.bloqueios.save(b1), tx.bloqueios.save(alheio)]);
        expect(await storage.consultas.subjectsOf(m.id, p.id)).toEqual({ medico: m, paciente: p, bloqueios: [b1, b2] });
        expect(await storage.consultas.subjectsOf(m.id, p.id)).toEqual({
          medico: await storage.medicos.get(m.id),
          paciente: await storage.pacientes.get(p.id),
          bloqueios: await storage.bloqueios.ofMedico(m.id),
        });
        // Unknown ids (and text no id looks like) read as nothing, never an error.
        expect(await storage.consultas.subjectsOf('nenhum', "'; DROP TABLE medicos; --")).toEqual({ medico: undefined, paciente: undefined, bloqueios: [] });
        expect(await storage.consultas.subjectsOf(outro.id, 'nenhum')).toEqual({ medico: outro, paciente: undefined, bloqueios: [alheio] });
        // Inside a unit of work: its own writes included.
        const b0 = bloqueio(m.id, at(DAY, '06:00'), at(DAY, '07:00'));
        const [before, after] = await storage.run(async (tx) => {
          const first = await tx.consultas.subjectsOf(m.id, p.id);
          await tx.bloqueios.save(b0);
          return [first, await tx.consultas.subjectsOf(m.id, p.id)];
        });
        expect(before).toEqual({ medico: m, paciente: p, bloqueios: [b1, b2] });
        expect(after).toEqual({ medico: m, paciente: p, bloqueios: [b0, b1, b2] });
      });

      it('when sessões, bloqueios, feriados, the waiting list, idempotency keys and the audit outbox are read, then each query answers', async () => {
        const storage = await make();
        const u1 = usuario();
        const u2 = usuario();
        const s1 = sessao(u1.id, 1_000);
        const s2 = sessao(u1.id, 5_000);
        const s3 = sessao(u2.id, 2_000);
        const m = medico();
        const b2 = bloqueio(m.id, at(DAY, '14:00'), at(DAY, '18:00'));
        const b1 = bloqueio(m.id, at(DAY, '08:00'), at(DAY, '12:00'));
        const b3 = bloqueio(medico().id, at(DAY, '08:00'), at(DAY, '12:00'));
        const f1 = feriado('2027-03-10');
        const f2 = feriado('2027-03-10', 'Outro');
        const f3 = feriado('2028-01-02');
        const p = paciente();
        const e2 = listaEspera(p.id, '2027-03-02T10:00:00-03:00');
        const e1 = listaEspera(p.id, '2027-03-02T09:00:00-03:00', { medicoId: m.id, especialidade: null });
        const e3 = listaEspera(paciente().id, '2027-03-01T09:00:00-03:00');
        const k1 = idempotency(1_000);
        const k2 = idempotency(9_000);
        const a2 = staged(2_000);
        const a1 = staged(1_000);
        await seed(storage, (tx) => [
          tx.sessoes.save(s1), tx.sessoes.save(s2), tx.sessoes.save(s3),
          tx.bloqueios.save(b2), tx.bloqueios.save(b1), tx.bloqueios.save(b3),
          tx.feriados.save(f1), tx.feriados.save(f2), tx.feriados.save(f3),
          tx.listaEspera.save(e2), tx.listaEspera.save(e1), tx.listaEspera.save(e3),
          tx.idempotency.save(k1), tx.idempotency.save(k2),
          tx.auditOutbox.save(a2), tx.auditOutbox.save(a1),
        ]);
        expect(await storage.sessoes.get(s2.id)).toEqual(s2);
        expect(ids(await storage.sessoes.ofUser(u1.id)).sort()).toEqual([s1.id, s2.id].sort());
        expect(ids(await storage.sessoes.expired(2_000)).sort()).toEqual([s1.id]);
        expect(ids(await storage.sessoes.expired(2_001)).sort()).toEqual([s1.id, s3.id].sort());
        const oneExpired = ids(await storage.sessoes.expired(2_001, 1));
        expect(oneExpired).toHaveLength(1);
        expect([s1.id, s3.id]).toContain(oneExpired[0]);
        expect(await storage.bloqueios.ofMedico(m.id)).toEqual([b1, b2]);
        expect(await storage.bloqueios.get(b3.id)).toEqual(b3);
        expect(ids(await storage.feriados.on('2027-03-10')).sort()).toEqual([f1.id, f2.id].sort());
        expect(await storage.feriados.on('2027-03-11')).toEqual([]);
        expect(await storage.feriados.on('2027-02-30')).toEqual([]);
        expect(ids(await storage.feriados.ofYear(2028))).toEqual([f3.id]);
        expect(await storage.feriados.ofYear(2029)).toEqual([]);
        expect(ids(await storage.listaEspera.all())).toEqual([e3.id, e1.id, e2.id]);
        expect(ids(await storage.listaEspera.ofPaciente(p.id))).toEqual([e1.id, e2.id]);
        expect(await storage.listaEspera.get(e1.id)).toEqual(e1);
        expect(await storage.idempotency.get(k2.id)).toEqual(k2);
        expect(await storage.idempotency.olderThan(9_000)).toEqual([k1.id]);
        expect((await storage.idempotency.olderThan(9_001, 1)).length).toBe(1);
        expect((await storage.idempotency.olderThan(9_001, 5)).sort()).toEqual([k1.id, k2.id].sort());
        expect(await storage.auditOutbox.all()).toEqual([a1, a2]);
      });
    });

    describe('purging a backlog', () => {
      it('when more records are due than one chunk, then they go in units of work of at most a chunk each, and the rest stays', async () => {
        const storage = await make();
        const due = Array.from({ length: 2 * PURGE_CHUNK + 500 }, (_, i) => idempotency(1_000 + i));
        const fresh = idempotency(50_000);
        for (let start = 0; start < due.length; start += 500) {
          await seed(storage, (tx) => due.slice(start, start + 500).map((k) => tx.idempotency.save(k)));
        }
        await seed(storage, (tx) => [tx.idempotency.save(fresh)]);
        const commits: number[] = [];
        storage.changes.onCommit((changes) => commits.push(changes.filter((c) => c.collection === COLLECTIONS.idempotencia).length));
        const removed = await purgeInChunks(storage, (reads, limit) => reads.idempotency.olderThan(10_000, limit), (tx, id) => tx.idempotency.remove(id));
        expect(removed).toBe(due.length);
        expect(await storage.idempotency.olderThan(60_000)).toEqual([fresh.id]);
        expect(commits).toEqual([PURGE_CHUNK, PURGE_CHUNK, 500]);
        // Nothing due: nothing written.
        expect(await purgeInChunks(storage, (reads, limit) => reads.idempotency.olderThan(10_000, limit), (tx, id) => tx.idempotency.remove(id))).toBe(0);
        expect(commits).toHaveLength(3);
      });
    });

    describe('units of work', () => {
      it('when the work throws, then it rejects with that error, nothing it wrote stays and no change is delivered', async () => {
        const storage = await make();
        const heard: Change[] = [];
        storage.changes.onCommit((changes) => heard.push(...changes));
        const kept = medico();
        await seed(storage, (tx) => [tx.medicos.save(kept)]);
        heard.length = 0;
        const lost = medico();
        const refusal = new AppError('REGRA_AGENDAMENTO', 'não pode');
        await expect(
          storage.run(async (tx) => {
            await tx.medicos.save(lost);
            await tx.medicos.save({ ...kept, nome: 'Mudado' });
            await tx.medicos.remove(kept.id);
            // The unit of work sees its own writes.
            expect(await tx.medicos.get(lost.id)).toEqual(lost);
            expect(await tx.medicos.get(kept.id)).toBeUndefined();
            throw refusal;
          }),
        ).rejects.toBe(refusal);
        expect(await storage.medicos.get(lost.id)).toBeUndefined();
        expect(await storage.medicos.get(kept.id)).toEqual(kept);
        expect(await storage.counts()).toMatchObject({ [COLLECTIONS.medicos]: 1 });
        expect(heard).toEqual([]);
      });

      it('when units of work read then write the same record at once, then no update is lost', async () => {
        const storage = await make();
        const counter = idempotency(0, 0);
        await seed(storage, (tx) => [tx.idempotency.save(counter)]);
        const runs = 8;
        await Promise.all(
          Array.from({ length: runs }, () =>
            storage.run(async (tx) => {
              const current = await tx.idempotency.get(counter.id);
              // Give the others time to read the same value.
              await new Promise((resolve) => setTimeout(resolve, 5));
              await tx.idempotency.save({ ...current!, status: current!.status + 1 });
            }),
          ),
        );
        expect((await storage.idempotency.get(counter.id))?.status).toBe(runs);
      });

      it('when units of work check then insert the same slot at once, then exactly one books it', async () => {
        const storage = await make();
        const m = medico();
        const pacientes = Array.from({ length: 6 }, () => paciente());
        await seed(storage, (tx) => [tx.medicos.save(m), ...pacientes.map((p) => tx.pacientes.save(p))]);
        const [inicio, fim] = [at(DAY, '15:00'), at(DAY, '15:30')];
        const results = await Promise.allSettled(
          pacientes.map((p) =>
            storage.run(async (tx) => {
              await tx.lock(`encaixes:${m.id}:${DAY}`);
              if (await tx.consultas.medicoConflict(m.id, ms(inicio), ms(fim))) throw new AppError('HORARIO_OCUPADO', 'ocupado');
              await new Promise((resolve) => setTimeout(resolve, 2));
              await tx.consultas.save(consulta(m.id, p.id, inicio, fim));
            }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'HORARIO_OCUPADO' });
        expect((await storage.consultas.forMedicoBetween(m.id, -Infinity, Infinity)).length).toBe(1);
      });

      it('when a unit of work returns, then run resolves with its result', async () => {
        const storage = await make();
        expect(await storage.run(async (tx) => (await tx.medicos.get('nenhum')) ?? 42)).toBe(42);
      });
    });

    describe('change feed', () => {
      it('when commits happen, then listeners hear every change in commit order, with before and after, by the time run resolves', async () => {
        const storage = await make();
        const heard: Change[] = [];
        const off = storage.changes.onCommit((changes) => heard.push(...changes));
        const m = medico();
        const p = paciente();
        await seed(storage, (tx) => [tx.medicos.save(m), tx.pacientes.save(p)]);
        expect(heard).toEqual([
          { collection: COLLECTIONS.medicos, id: m.id, before: undefined, after: m },
          { collection: COLLECTIONS.pacientes, id: p.id, before: undefined, after: p },
        ]);
        const m2 = { ...m, nome: 'Renomeado' };
        await seed(storage, (tx) => [tx.medicos.save(m2)]);
        await seed(storage, (tx) => [tx.medicos.remove(m.id), tx.medicos.remove('inexistente')]);
        expect(heard.slice(2)).toEqual([
          { collection: COLLECTIONS.medicos, id: m.id, before: m, after: m2 },
          { collection: COLLECTIONS.medicos, id: m.id, before: m2, after: undefined },
        ]);
        off();
        await seed(storage, (tx) => [tx.medicos.save(medico())]);
        expect(heard).toHaveLength(4);
      });

      it('when a unit of work saves one record twice, then both changes are heard, in order', async () => {
        const storage = await make();
        const heard: Change[] = [];
        storage.changes.onCommit((changes) => heard.push(...changes));
        const c = idempotency(1);
        await seed(storage, (tx) => [tx.idempotency.save(c), tx.idempotency.save({ ...c, status: 500 })]);
        expect(heard).toEqual([
          { collection: COLLECTIONS.idempotencia, id: c.id, before: undefined, after: c },
          { collection: COLLECTIONS.idempotencia, id: c.id, before: c, after: { ...c, status: 500 } },
        ]);
      });
    });

    describe('export and import', () => {
      /** One or more records in every collection. */
      async function fill(storage: StoragePort): Promise<void> {
        const m = medico({ nome: 'Ângela Dias' });
        const p = paciente({ nome: 'João "Jota" D\'Ávila \\ ✓' });
        const u = usuario({ papel: 'medico', medicoId: m.id });
        const consultas = Array.from({ length: 30 }, (_, i) =>
          consulta(m.id, p.id, `2027-04-${String(1 + (i % 28)).padStart(2, '0')}T${String(8 + Math.floor(i / 28)).padStart(2, '0')}:00:00-03:00`, `2027-04-${String(1 + (i % 28)).padStart(2, '0')}T${String(8 + Math.floor(i / 28)).padStart(2, '0')}:30:00-03:00`, i % 3 === 0 ? 'cancelada' : 'realizada', { observacoes: i % 2 ? `nota ${'x'.repeat(i)}` : null }),
        );
        await seed(storage, (tx) => [
          tx.medicos.save(m), tx.medicos.save(medico()), tx.pacientes.save(p), tx.usuarios.save(u),
          tx.sessoes.save(sessao(u.id, 1_764_560_000_123)), tx.bloqueios.save(bloqueio(m.id, at(DAY, '14:00'), at(DAY, '18:00'))),
          tx.feriados.save(feriado('2027-03-10')), tx.listaEspera.save(listaEspera(p.id, '2027-03-02T09:00:00-03:00')),
          tx.idempotency.save(idempotency(1_764_560_000_999)), tx.auditOutbox.save(staged(1_764_560_000_001)),
          ...consultas.map((c) => tx.consultas.save(c)),
        ]);
      }

      it('when every record is exported and imported into an empty storage, then a second export is deep-equal, in id order, and listeners hear a reset of every collection', async () => {
        const source = await make();
        await fill(source);
        const snapshot = await source.exportRecords();
        expect(snapshot.counts).toEqual(await source.counts());
        const target = await make();
        const stale = medico();
        await seed(target, (tx) => [tx.medicos.save(stale)]);
        const resets = new Set<string>();
        target.changes.onReset((collection) => resets.add(collection));
        const counts = await target.importRecords((collection) => snapshot.records(collection));
        await snapshot.close();
        expect(counts).toEqual(await source.counts());
        expect(await target.counts()).toEqual(await source.counts());
        expect(resets).toEqual(new Set(target.collections));
        const before = await dump(source);
        const after = await dump(target);
        expect(after).toEqual(before);
        for (const records of Object.values(after)) expect(ids(records)).toEqual(ids(records).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(await target.medicos.get(stale.id)).toBeUndefined();
        // The imported records answer queries (typed columns written alongside).
        const [m] = (await target.medicos.list({ q: 'angela', limit: 1, offset: 0 })).items;
        expect(m?.nome).toBe('Ângela Dias');
        expect((await target.consultas.forMedicoBetween(m!.id, -Infinity, Infinity)).length).toBe(30);
      });

      it('when an import keeps a collection and runs beforeReplace, then it sees every record committed before, a write asked meanwhile lands after the import, and the kept collection stays', async () => {
        const storage = await make();
        await fill(storage);
        const committed = medico({ nome: 'Antes da Restauração' });
        await seed(storage, (tx) => [tx.medicos.save(committed)]);
        const expected = await dump(storage);
        const meanwhile = medico({ nome: 'Durante a Restauração' });
        let write: Promise<void> | undefined;
        let written = false;
        const seen: Record<string, Entity[]> = {};
        const counts = await storage.importRecords(
          async function* (collection) {
            if (collection === COLLECTIONS.sessoes) throw new Error('a kept collection is not read from the source');
            if (collection === COLLECTIONS.medicos) yield medico({ nome: 'Do Backup' });
          },
          {
            keep: new Set([COLLECTIONS.sessoes]),
            beforeReplace: async (current) => {
              for (const collection of storage.collections) {
                const records: Entity[] = [];
                for await (const record of current.records(collection)) records.push(record);
                seen[collection] = records;
              }
              expect(current.counts).toEqual(Object.fromEntries(Object.entries(expected).map(([c, r]) => [c, r.length])));
              write = seed(storage, (tx) => [tx.medicos.save(meanwhile)]).then(() => void (written = true));
              await new Promise((resolve) => setTimeout(resolve, 100));
              // No process commits while the import holds the storage.
              expect(written).toBe(false);
            },
          },
        );
        expect(seen).toEqual(expected);
        expect(counts[COLLECTIONS.sessoes]).toBe(expected[COLLECTIONS.sessoes]!.length);
        expect(counts[COLLECTIONS.medicos]).toBe(1);
        expect(counts[COLLECTIONS.consultas]).toBe(0);
        await write;
        const after = await dump(storage);
        expect(after[COLLECTIONS.sessoes]).toEqual(expected[COLLECTIONS.sessoes]);
        expect(after[COLLECTIONS.medicos]!.map((m) => (m as unknown as { nome: string }).nome).sort()).toEqual(['Do Backup', 'Durante a Restauração']);
      });

      it('when beforeReplace throws, then the import fails with its error and nothing changes', async () => {
        const storage = await make();
        await fill(storage);
        const expected = await dump(storage);
        const refusal = new Error('o backup de segurança falhou');
        await expect(storage.importRecords(async function* () {}, { beforeReplace: () => Promise.reject(refusal) })).rejects.toBe(refusal);
        expect(await dump(storage)).toEqual(expected);
        // The storage takes writes again.
        await seed(storage, (tx) => [tx.medicos.save(medico())]);
      });

      it('when an export is open, then later commits do not change what it hands over', async () => {
        const storage = await make();
        await fill(storage);
        const snapshot = await storage.exportRecords();
        const extra = medico();
        await seed(storage, (tx) => [tx.medicos.save(extra)]);
        const medicos: Entity[] = [];
        for await (const record of snapshot.records(COLLECTIONS.medicos)) medicos.push(record);
        await snapshot.close();
        expect(medicos).toHaveLength(2);
        expect(snapshot.counts[COLLECTIONS.medicos]).toBe(2);
        expect((await storage.counts())[COLLECTIONS.medicos]).toBe(3);
      });

      it('when storage is asked, then it reports itself healthy and counts every collection', async () => {
        const storage = await make();
        expect(await storage.healthy()).toBe(true);
        expect(Object.keys(await storage.counts()).sort()).toEqual([...storage.collections].sort());
      });
    });
  });
}
