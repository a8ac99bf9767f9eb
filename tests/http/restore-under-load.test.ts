import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { makeApp } from '../helpers/app.js';
import { NEXT_MONDAY, agendar, at, clinic } from '../helpers/scheduling.js';

/** Four Mondays from the tests' next Monday (the médicos of `clinic` work 08:00–12:00 and 14:00–18:00 on Mondays). */
const MONDAYS = Array.from({ length: 4 }, (_, i) => new Date(Date.parse(`${NEXT_MONDAY}T12:00:00Z`) + i * 7 * 86_400_000).toISOString().slice(0, 10));
const TIMES = ['08:00', '08:30', '09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '14:00', '14:30', '15:00', '15:30', '16:00', '16:30', '17:00', '17:30'];

describeEachDriver(() =>
  describe('a restore while bookings are answered', () => {
    it('when bookings are answered 201 while a restore runs, then each is in the safety backup or in the data after the restore: none falls between them', async () => {
      const t = await makeApp();
      const { medicos, pacientes } = await clinic(t.app, { medicos: 4, pacientes: 4 });
      const { nome } = await t.container.services.backups.create({ automatic: false });
      // Each médico with a paciente of his own: no booking refuses another, whichever order they commit in.
      const bodies = MONDAYS.flatMap((day) => TIMES.flatMap((time) => medicos.map((medicoId, i) => ({ medicoId, pacienteId: pacientes[i], inicio: at(time, day) }))));
      const answers: Promise<request.Response>[] = [];
      let restored: Promise<request.Response> | undefined;
      for (const [i, body] of bodies.slice(0, 200).entries()) {
        // `then` sends the request now (supertest sends on the first `then`).
        answers.push(agendar(t.app, body).then((r) => r));
        if (i === 30) restored = request(t.app).post(`/sistema/backups/${nome}/restaurar`).then((r) => r);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const restore = await restored!;
      expect(restore.status, JSON.stringify(restore.body)).toBe(200);
      // And a few once it has answered: these land on the restored data.
      for (const body of bodies.slice(200, 210)) answers.push(Promise.resolve(await agendar(t.app, body)));
      const booked = (await Promise.all(answers)).filter((r) => r.status === 201).map((r) => r.body.id as string);
      await t.container.queue.onIdle();

      const safety = await t.container.services.backups.validate(path.join(t.container.config.backupDir, restore.body.backupDeSeguranca as string));
      const before = new Set((safety.get(COLLECTIONS.consultas) ?? []).map((c) => c.id));
      const snapshot = await t.container.storage.exportRecords();
      const after = new Set<string>();
      for await (const c of snapshot.records(COLLECTIONS.consultas)) after.add(c.id);
      await snapshot.close();

      expect(booked.filter((id) => !before.has(id) && !after.has(id))).toEqual([]);
      // Bookings were answered on both sides of the restore.
      expect(booked.filter((id) => before.has(id)).length).toBeGreaterThan(0);
      expect(booked.filter((id) => after.has(id)).length).toBeGreaterThan(0);
    });
  }),
);
