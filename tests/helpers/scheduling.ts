import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import { medicoBody, pacienteBody } from './app.js';

/** Valid CPFs for test pacientes. */
export const CPFS = ['52998224725', '11144477735', '39053344705', '15350946056', '86288366757', '12345678909'];

/**
 * A médico working Mondays 08:00–12:00 and 14:00–18:00 (30-minute slots) and pacientes, registered over HTTP.
 * With the test clock (Monday 2026-11-30 12:00 in São Paulo), 2026-12-07 is the next Monday.
 */
export async function clinic(app: Express, options: { medicos?: number; pacientes?: number } = {}) {
  const medicos: string[] = [];
  for (let i = 0; i < (options.medicos ?? 1); i++) {
    const res = await request(app).post('/medicos').send(medicoBody({ nome: `Médico ${i}`, crm: `${1000 + i}/SP` }));
    expect(res.status).toBe(201);
    medicos.push(res.body.id);
  }
  const pacientes: string[] = [];
  for (let i = 0; i < (options.pacientes ?? 1); i++) {
    const res = await request(app).post('/pacientes').send(pacienteBody({ nome: `Paciente ${i}`, cpf: CPFS[i] }));
    expect(res.status).toBe(201);
    pacientes.push(res.body.id);
  }
  return { medicoId: medicos[0]!, pacienteId: pacientes[0]!, medicos, pacientes };
}

export const NEXT_MONDAY = '2026-12-07';
export const at = (time: string, date = NEXT_MONDAY) => `${date}T${time}:00-03:00`;

export const agendar = (app: Express, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  request(app).post('/consultas/agendar').set(headers).send(body);
