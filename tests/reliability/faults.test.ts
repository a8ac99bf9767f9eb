import { dataFileBytes } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers/app.js';
import { faultyFs } from '../helpers/faults.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';


describe.each(['ENOSPC', 'EIO'] as const)('disk fault %s', (code) => {
  it('when writes fail, then bookings answer 503 problem, slots go back to disponivel, files are intact, and service resumes', async () => {
    const { fs, control } = faultyFs(code);
    const t = await makeApp({ fs });
    const { medicoId, pacientes } = await clinic(t.app, { pacientes: 3 });
    await agendar(t.app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    // Audit entries of those writes leave the outbox after the answers: let them settle first.
    await t.container.auditor.flush();
    const before = dataFileBytes(t.dataDir);

    control.failing = true;
    const results = await Promise.all(
      ['09:00', '09:30', '10:00'].map((time, i) => agendar(t.app, { medicoId, pacienteId: pacientes[i], inicio: at(time) })),
    );
    for (const res of results) {
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body).toMatchObject({ type: '/problemas/armazenamento-indisponivel', status: 503 });
    }
    const cancel = await request(t.app).post('/medicos').send({ nome: 'X' }); // a 4xx is still a 4xx
    expect(cancel.status).toBe(400);
    const agenda = await request(t.app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }).expect(200);
    expect(agenda.body.slots.filter((s: { estado: string }) => s.estado !== 'disponivel').map((s: { inicio: string }) => s.inicio)).toEqual([at('08:00')]);
    expect(dataFileBytes(t.dataDir)).toEqual(before); // the failed appends were cut back

    control.failing = false;
    await agendar(t.app, { medicoId, pacienteId: pacientes[1], inicio: at('09:00') }).expect(201);
    expect((await request(t.app).get('/consultas').expect(200)).body.total).toBe(2);
  });
});
