import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { slotsForDate } from '../../src/domain/slots.js';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';

const sundayNight = { duracaoConsultaMin: 30, horarios: [{ diaSemana: 0, inicio: '01:00', fim: '04:00' }] };
const iso = (ms: number) => new Date(ms).toISOString();

describe('slots across daylight-saving changes', () => {
  it('when New York springs forward (2027-03-14, 02:00 → 03:00), then 01:00–04:00 holds two real hours', () => {
    const slots = slotsForDate(sundayNight, '2027-03-14', 'America/New_York');
    expect(slots.map((s) => [iso(s.inicioMs), iso(s.fimMs)])).toEqual([
      ['2027-03-14T06:00:00.000Z', '2027-03-14T06:30:00.000Z'], // 01:00 EST
      ['2027-03-14T06:30:00.000Z', '2027-03-14T07:00:00.000Z'], // 01:30 EST → 03:00 EDT
      ['2027-03-14T07:00:00.000Z', '2027-03-14T07:30:00.000Z'], // 03:00 EDT
      ['2027-03-14T07:30:00.000Z', '2027-03-14T08:00:00.000Z'], // 03:30 EDT → 04:00 EDT
    ]);
  });

  it('when New York falls back (2027-11-07, 02:00 → 01:00), then 01:00–04:00 holds four real hours', () => {
    const slots = slotsForDate(sundayNight, '2027-11-07', 'America/New_York');
    expect(slots).toHaveLength(8);
    expect(iso(slots[0]!.inicioMs)).toBe('2027-11-07T05:00:00.000Z'); // 01:00 EDT
    expect(iso(slots[7]!.fimMs)).toBe('2027-11-07T09:00:00.000Z'); // 04:00 EST
    for (const s of slots) expect(s.fimMs - s.inicioMs).toBe(30 * 60_000);
  });

  it('when Lisbon springs forward (2027-03-28, 01:00 → 02:00), then a start inside the gap moves with the clock', () => {
    const slots = slotsForDate({ duracaoConsultaMin: 60, horarios: [{ diaSemana: 0, inicio: '01:30', fim: '04:00' }] }, '2027-03-28', 'Europe/Lisbon');
    // 01:30 does not exist that night; it is read as 02:30 WEST, so one hour-long slot fits before 04:00... and 03:30 does not.
    expect(slots.map((s) => iso(s.inicioMs))).toEqual(['2027-03-28T01:30:00.000Z']);
  });

  it('when São Paulo (no DST since 2019) is used, then every day has the same slots', () => {
    const a = slotsForDate(sundayNight, '2027-03-14', 'America/Sao_Paulo');
    const b = slotsForDate(sundayNight, '2027-11-07', 'America/Sao_Paulo');
    expect(a).toHaveLength(6);
    expect(b).toHaveLength(6);
  });
});

describe('agenda and booking in America/New_York', () => {
  it('when the clock falls back, then the agenda shows the repeated hour twice with its offsets, and each can be booked', async () => {
    const { app } = await makeApp({ env: { CLINIC_TZ: 'America/New_York' } });
    const m = await request(app).post('/medicos').send(medicoBody(sundayNight)).expect(201);
    const p = await request(app).post('/pacientes').send(pacienteBody()).expect(201);
    const p2 = await request(app).post('/pacientes').send(pacienteBody({ cpf: '11144477735' })).expect(201);
    const agenda = await request(app).get(`/medicos/${m.body.id}/agenda`).query({ data: '2027-11-07' }).expect(200);
    expect(agenda.body.timezone).toBe('America/New_York');
    expect(agenda.body.slots.map((s: { inicio: string }) => s.inicio)).toEqual([
      '2027-11-07T01:00:00-04:00',
      '2027-11-07T01:30:00-04:00',
      '2027-11-07T01:00:00-05:00',
      '2027-11-07T01:30:00-05:00',
      '2027-11-07T02:00:00-05:00',
      '2027-11-07T02:30:00-05:00',
      '2027-11-07T03:00:00-05:00',
      '2027-11-07T03:30:00-05:00',
    ]);
    const first = await request(app).post('/consultas/agendar').send({ medicoId: m.body.id, pacienteId: p.body.id, inicio: '2027-11-07T01:30:00-04:00' });
    expect(first.status).toBe(201);
    const second = await request(app).post('/consultas/agendar').send({ medicoId: m.body.id, pacienteId: p2.body.id, inicio: '2027-11-07T06:30:00Z' });
    expect(second.status).toBe(201);
    expect(second.body.inicio).toBe('2027-11-07T01:30:00-05:00');
    const after = await request(app).get(`/medicos/${m.body.id}/agenda`).query({ data: '2027-11-07' }).expect(200);
    expect(after.body.slots.filter((s: { estado: string }) => s.estado === 'ocupado')).toHaveLength(2);
  });

  it('when the clock springs forward, then the agenda has four slots', async () => {
    const { app } = await makeApp({ env: { CLINIC_TZ: 'America/New_York' } });
    const m = await request(app).post('/medicos').send(medicoBody(sundayNight)).expect(201);
    const agenda = await request(app).get(`/medicos/${m.body.id}/agenda`).query({ data: '2027-03-14' }).expect(200);
    expect(agenda.body.slots.map((s: { inicio: string; fim: string }) => `${s.inicio} ${s.fim}`)).toEqual([
      '2027-03-14T01:00:00-05:00 2027-03-14T01:30:00-05:00',
      '2027-03-14T01:30:00-05:00 2027-03-14T03:00:00-04:00',
      '2027-03-14T03:00:00-04:00 2027-03-14T03:30:00-04:00',
      '2027-03-14T03:30:00-04:00 2027-03-14T04:00:00-04:00',
    ]);
  });
});
