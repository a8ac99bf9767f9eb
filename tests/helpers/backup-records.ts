import request from 'supertest';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import type { Entity, StoragePort } from '../../src/repositories/port.js';
import type { makeApp } from './app.js';
import { agendar, at, clinic } from './scheduling.js';

type App = Awaited<ReturnType<typeof makeApp>>;

/** Collections a restore never rolls back (open sessions, audit entries on their way to the log). */
export const LIVE = new Set<string>([COLLECTIONS.sessoes, COLLECTIONS.auditoriaPendente]);

/** Every record of every collection but the live ones, through the port's export. */
export async function everyRecord(storage: StoragePort): Promise<Record<string, Entity[]>> {
  const snapshot = await storage.exportRecords();
  try {
    const out: Record<string, Entity[]> = {};
    for (const collection of storage.collections) {
      if (LIVE.has(collection)) continue;
      const list: Entity[] = [];
      for await (const record of snapshot.records(collection)) list.push(record);
      out[collection] = list;
    }
    return out;
  } finally {
    await snapshot.close();
  }
}

/** What the API shows of the clinic's records. */
export async function shown(app: App['app']) {
  const list = async (p: string) => (await request(app).get(p).expect(200)).body;
  return { medicos: await list('/medicos'), pacientes: await list('/pacientes'), consultas: await list('/consultas') };
}

/** A clinic with something in every collection a backup carries. */
export async function busyClinic(t: App) {
  const { medicos, pacientes } = await clinic(t.app, { medicos: 2, pacientes: 3 });
  await agendar(t.app, { medicoId: medicos[0], pacienteId: pacientes[0], inicio: at('08:00') }, { 'Idempotency-Key': 'k-1' }).expect(201);
  const second = await agendar(t.app, { medicoId: medicos[1], pacienteId: pacientes[1], inicio: at('09:00'), observacoes: 'linha 1\nlinha 2 "aspas" \u2028 ç' }).expect(201);
  await request(t.app).post(`/consultas/${second.body.id}/cancelar`).send({ motivo: 'Paciente pediu' }).expect(200);
  await request(t.app).post(`/medicos/${medicos[1]}/bloqueios`).send({ inicio: at('14:00'), fim: at('16:00'), motivo: 'Congresso' }).expect(201);
  await request(t.app).post('/feriados').send({ data: '2026-12-08', nome: 'Aniversário da cidade' }).expect(201);
  await request(t.app).post('/lista-espera').send({ pacienteId: pacientes[2], medicoId: medicos[0], de: '2026-12-14', ate: '2026-12-18' }).expect(201);
  return { medicos, pacientes };
}

