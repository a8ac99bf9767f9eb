import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { formatInstant } from '../../src/core/time.js';
import type { ConsultaRecord } from '../../src/repositories/port.js';
import { STATUS_CONSULTA, type StatusConsulta } from '../../src/schemas/consulta.schema.js';
import { TEST_NOW, bearer, makeApp, signIn, type TestApp } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

const ZONE = 'America/Sao_Paulo';
const HOUR = 3_600_000;

/**
 * The contract's table ("Front desk (v2)"), written out here independently of src/domain/consulta-status.ts:
 * for each destination, the statuses it may come from and when (relative to the consulta's start).
 */
type Janela = 'antes do início' | 'desde 2 h antes' | 'depois do início';
const CONTRACT: Record<Exclude<StatusConsulta, 'agendada'>, { de: StatusConsulta[]; quando: Janela }> = {
  confirmada: { de: ['agendada'], quando: 'antes do início' },
  cancelada: { de: ['agendada', 'confirmada'], quando: 'antes do início' },
  aguardando: { de: ['agendada', 'confirmada'], quando: 'desde 2 h antes' },
  em_atendimento: { de: ['agendada', 'confirmada', 'aguardando'], quando: 'depois do início' },
  realizada: { de: ['agendada', 'confirmada', 'aguardando', 'em_atendimento'], quando: 'depois do início' },
  faltou: { de: ['agendada', 'confirmada'], quando: 'depois do início' },
};

/** Moments tried, as "the consulta starts this long after now" (negative: it started that long ago). */
const MOMENTOS: { nome: string; inicioEmMs: number }[] = [
  { nome: '3 h antes do início', inicioEmMs: 3 * HOUR },
  { nome: 'exatamente 2 h antes', inicioEmMs: 2 * HOUR },
  { nome: '1 h antes', inicioEmMs: HOUR },
  { nome: 'no início', inicioEmMs: 0 },
  { nome: '1 h depois do início', inicioEmMs: -HOUR },
];

function allowed(de: StatusConsulta, para: keyof typeof CONTRACT, inicioEmMs: number): boolean {
  const rule = CONTRACT[para];
  if (!rule.de.includes(de)) return false;
  if (rule.quando === 'antes do início') return inicioEmMs > 0;
  if (rule.quando === 'desde 2 h antes') return inicioEmMs <= 2 * HOUR;
  return inicioEmMs <= 0;
}

/** Asks for the transition through its route: cancelar and check-in have their own, PATCH does the rest. */
function ask(app: Express, id: string, para: keyof typeof CONTRACT) {
  if (para === 'cancelada') return request(app).post(`/consultas/${id}/cancelar`).send({});
  if (para === 'aguardando') return request(app).post(`/consultas/${id}/checkin`);
  return request(app).patch(`/consultas/${id}`).send({ status: para });
}

/** Every (from, to) pair; each test tries it at every moment. */
const pairs = STATUS_CONSULTA.flatMap((de) => (Object.keys(CONTRACT) as (keyof typeof CONTRACT)[]).map((para) => ({ de, para })));

describeEachDriver((driver) => {
  describe('consulta status machine, by table (every status × every destination × moment)', () => {
    /** A consulta in any status at any time, written straight to storage (the table starts from every status). */
    async function seed(t: TestApp, medicoId: string, pacienteId: string, status: StatusConsulta, inicioEmMs: number): Promise<ConsultaRecord> {
      const inicio = TEST_NOW.getTime() + inicioEmMs;
      const now = formatInstant(TEST_NOW, ZONE);
      const record: ConsultaRecord = {
        id: randomUUID(), medicoId, pacienteId, inicio: formatInstant(inicio, ZONE), fim: formatInstant(inicio + 30 * 60_000, ZONE), status,
        observacoes: null, motivoCancelamento: null, chegouEm: null, encaixe: false, criadaEm: now, atualizadaEm: now,
      };
      await t.container.storage.run((tx) => tx.consultas.save(record));
      return record;
    }

    it('when generated, then the table covers 7 statuses × 6 destinations × 5 moments, with both outcomes', () => {
      expect(pairs).toHaveLength(7 * 6);
      const outcomes = pairs.flatMap(({ de, para }) => MOMENTOS.map((m) => allowed(de, para, m.inicioEmMs)));
      expect(outcomes.filter(Boolean).length).toBeGreaterThan(20);
      expect(outcomes.filter((ok) => !ok).length).toBeGreaterThan(100);
    });

    it.each(pairs)('when $de → $para, then it is allowed exactly when and where the contract says', async ({ de, para }) => {
      // JSON: memory (no files to write, 42 apps); PostgreSQL has no such twin.
      const t = await makeApp({ ...(driver === 'json' ? { storage: 'memory' as const } : {}), clock: new ManualClock(TEST_NOW) });
      const { medicoId, pacienteId } = await clinic(t.app);
      for (const { nome, inicioEmMs } of MOMENTOS) {
        const ok = allowed(de, para, inicioEmMs);
        const label = `${de} → ${para} at ${nome} (allowed: ${ok})`;
        const consulta = await seed(t, medicoId, pacienteId, de, inicioEmMs);
        const res = await ask(t.app, consulta.id, para);
        const stored = (await request(t.app).get(`/consultas/${consulta.id}`).expect(200)).body;
        if (ok) {
          expect(res.status, label).toBe(200);
          expect(res.body, label).toMatchObject({ id: consulta.id, status: para });
          expect(stored.status, label).toBe(para);
          expect(stored.chegouEm, label).toBe(para === 'aguardando' ? formatInstant(TEST_NOW, ZONE) : null);
        } else {
          expect(res.body, label).toMatchObject({ status: 409, type: '/problemas/status-invalido' });
          expect(stored, label).toMatchObject({ status: de, chegouEm: null, atualizadaEm: consulta.atualizadaEm });
        }
      }
    });
  });

  describe('front-desk transitions in use', () => {
    it('when a consulta goes confirmada → aguardando → em_atendimento → realizada, then each is audited, streamed, and the slot stays ocupado', async () => {
      const clock = new ManualClock(TEST_NOW);
      const t = await makeApp({ clock });
      const { medicoId, pacientes } = await clinic(t.app, { pacientes: 2 });
      const pacienteId = pacientes[0]!;
      const server = await listen(t.app);
      const stream = await openStream(`${server.url}/sistema/agenda/stream?medicoId=${medicoId}`, { authorization: `Bearer ${t.adminToken}` });
      const c = (await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201)).body;
      expect(c).toMatchObject({ status: 'agendada', chegouEm: null, encaixe: false });
      const estado = async () =>
        (await request(t.app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }).expect(200)).body.slots[0].estado;

      await request(t.app).patch(`/consultas/${c.id}`).send({ status: 'confirmada' }).expect(200);
      expect(await estado()).toBe('ocupado');
      // Another booking of the slot is still refused: a confirmed consulta holds it.
      expect((await agendar(t.app, { medicoId, pacienteId: pacientes[1], inicio: at('08:00') })).body.type).toBe('/problemas/horario-ocupado');

      clock.set(new Date('2026-12-07T09:30:00Z')); // 06:30 in São Paulo: 1 h 30 before
      const checkin = await request(t.app).post(`/consultas/${c.id}/checkin`).expect(200);
      expect(checkin.body).toMatchObject({ status: 'aguardando', chegouEm: '2026-12-07T06:30:00-03:00' });
      expect(await estado()).toBe('ocupado');
      clock.set(new Date('2026-12-07T11:05:00Z'));
      await request(t.app).patch(`/consultas/${c.id}`).send({ status: 'em_atendimento' }).expect(200);
      const done = await request(t.app).patch(`/consultas/${c.id}`).send({ status: 'realizada', observacoes: 'retorno em 30 dias' }).expect(200);
      expect(done.body).toMatchObject({ status: 'realizada', chegouEm: '2026-12-07T06:30:00-03:00', observacoes: 'retorno em 30 dias' });
      expect(await estado()).toBe('ocupado');

      await stream.until(() => stream.messages.filter((m) => m.event === 'consulta_status').length === 4);
      const statuses = stream.messages.filter((m) => m.event === 'consulta_status').map((m) => JSON.parse(m.data));
      expect(statuses.map((d) => d.status)).toEqual(['confirmada', 'aguardando', 'em_atendimento', 'realizada']);
      expect(statuses[0]).toEqual({ medicoId, inicio: at('08:00'), fim: at('08:30'), consultaId: c.id, status: 'confirmada', encaixe: false });
      // The slot never left `ocupado`: no horario_disponivel was sent after the booking.
      expect(stream.messages.some((m) => m.event === 'horario_disponivel')).toBe(false);
      stream.close();
      await server.close();

      const acoes = async () =>
        (await request(t.app).get('/sistema/auditoria').query({ pacienteId }).expect(200)).body.items.map((e: { acao: string }) => e.acao);
      await expect.poll(acoes).toEqual(expect.arrayContaining(['consulta.confirmada', 'consulta.checkin', 'consulta.em_atendimento', 'consulta.realizada']));
    });

    it('when cancelled after its start, then 409 naming faltou, and faltou works', async () => {
      const clock = new ManualClock(TEST_NOW);
      const { app } = await makeApp({ clock });
      const { medicoId, pacienteId } = await clinic(app);
      const c = (await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201)).body;
      clock.set(new Date('2026-12-07T11:01:00Z'));
      const res = await request(app).post(`/consultas/${c.id}/cancelar`).send({ motivo: 'não veio' });
      expect(res.body).toMatchObject({ status: 409, type: '/problemas/status-invalido' });
      expect(res.body.detail).toContain('faltou');
      await request(app).patch(`/consultas/${c.id}`).send({ status: 'faltou' }).expect(200);
    });

    it('when checking in more than 2 h early, then 409; from 2 h before, then 200', async () => {
      const clock = new ManualClock(new Date('2026-12-07T08:59:59Z')); // 05:59:59, 2 h 0 min 1 s before 08:00
      const { app } = await makeApp({ clock });
      const { medicoId, pacienteId } = await clinic(app);
      const c = (await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201)).body;
      const early = await request(app).post(`/consultas/${c.id}/checkin`);
      expect(early.body).toMatchObject({ status: 409, type: '/problemas/status-invalido' });
      clock.advance(1000);
      await request(app).post(`/consultas/${c.id}/checkin`).expect(200);
    });

    it('when rescheduling a confirmada before its start, then it moves; once checked in or started, then 409', async () => {
      const clock = new ManualClock(TEST_NOW);
      const { app } = await makeApp({ clock });
      const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
      const a = (await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201)).body;
      const b = (await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('09:00') }).expect(201)).body;
      await request(app).patch(`/consultas/${a.id}`).send({ status: 'confirmada' }).expect(200);
      const moved = await request(app).post(`/consultas/${a.id}/remarcar`).send({ inicio: at('10:00') }).expect(200);
      expect(moved.body).toMatchObject({ status: 'confirmada', inicio: at('10:00') });
      clock.set(new Date('2026-12-07T11:00:00Z')); // 08:00: b starts in 1 h
      await request(app).post(`/consultas/${b.id}/checkin`).expect(200);
      expect((await request(app).post(`/consultas/${b.id}/remarcar`).send({ inicio: at('11:00') })).body.type).toBe('/problemas/status-invalido');
      clock.set(new Date('2026-12-07T13:01:00Z')); // 10:01: a has started
      expect((await request(app).post(`/consultas/${a.id}/remarcar`).send({ inicio: at('11:00') })).body.type).toBe('/problemas/status-invalido');
    });

    it('when a paciente is aguardando or em_atendimento, then booking them over that time is a paciente conflict', async () => {
      const clock = new ManualClock(TEST_NOW);
      const { app } = await makeApp({ clock });
      const { medicos, pacienteId } = await clinic(app, { medicos: 2 });
      const c = (await agendar(app, { medicoId: medicos[0], pacienteId, inicio: at('08:00') }).expect(201)).body;
      clock.set(new Date('2026-12-07T10:00:00Z')); // 07:00
      await request(app).post(`/consultas/${c.id}/checkin`).expect(200);
      const res = await agendar(app, { medicoId: medicos[1], pacienteId, inicio: at('08:00') });
      expect(res.body).toMatchObject({ status: 409, type: '/problemas/conflito-paciente' });
    });

    it('when a médico user changes statuses, then only of their own consultas (check-in, confirm, encaixe); others are 403', async () => {
      const clock = new ManualClock(TEST_NOW);
      const { app, container } = await makeApp({ clock });
      const { medicos, pacientes } = await clinic(app, { medicos: 2, pacientes: 2 });
      const mine = (await agendar(app, { medicoId: medicos[0], pacienteId: pacientes[0], inicio: at('08:00') }).expect(201)).body;
      const other = (await agendar(app, { medicoId: medicos[1], pacienteId: pacientes[1], inicio: at('08:00') }).expect(201)).body;
      const as = bearer((await signIn(container, 'medico', medicos[0])).token);
      await request(app).patch(`/consultas/${mine.id}`).set(as).send({ status: 'confirmada' }).expect(200);
      expect((await request(app).patch(`/consultas/${other.id}`).set(as).send({ status: 'confirmada' })).status).toBe(403);
      expect((await agendar(app, { medicoId: medicos[1], pacienteId: pacientes[0], inicio: at('09:10'), encaixe: true }, as)).status).toBe(403);
      clock.set(new Date('2026-12-07T10:00:00Z'));
      await request(app).post(`/consultas/${mine.id}/checkin`).set(as).expect(200);
      expect((await request(app).post(`/consultas/${other.id}/checkin`).set(as)).status).toBe(403);
    });
  });
});
