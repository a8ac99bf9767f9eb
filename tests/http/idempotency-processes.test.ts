import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { bearer, makeApp } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * One Idempotency-Key sent to two processes of one database at the same moment (a client that timed out and
 * retried through the load balancer). Within a process a retry joins the first request; across processes the
 * second meets the first's reservation, heard as a signal. It must then wait for the first's answer, never
 * remember its own refusal under the key: that would make the first's worker replay a 409 and book nothing.
 */
describeEachDriver((driver) =>
  describe('one Idempotency-Key on two processes at once', () => {
    it.skipIf(driver === 'json')('when both get the same keyed booking at once (three retries at once on the second), then all answer the one booking, and later retries replay it', async () => {
      const dataDir = tempDir('agenda-twins-');
      const a = await makeApp({ env: { DATA_DIR: dataDir } });
      const b = await makeApp({ env: { DATA_DIR: dataDir } });
      const { medicoId, pacientes } = await clinic(a.app, { pacientes: 1 });
      for (let round = 0; round < 8; round++) {
        const body = { medicoId, pacienteId: pacientes[0], inicio: at(`${String(8 + Math.floor(round / 2)).padStart(2, '0')}:${round % 2 ? '30' : '00'}`) };
        // One user's key on both processes (a key belongs to its user): A's session, shared through the database.
        const key = { 'Idempotency-Key': `gemeas-${round}`, ...bearer(a.adminToken) };
        // B hears of A's reservation only once it is signalled: start B a little after A, over the rounds.
        const first = agendar(a.app, body, key).then((r) => r);
        await new Promise((resolve) => setTimeout(resolve, round * 3));
        // Three retries on B at once: the first meets A's reservation, the other two join it in B.
        const onB = await Promise.all([0, 1, 2].map(() => agendar(b.rawApp, body, key).then((r) => r)));
        const answers = [await first, ...onB];
        answers.forEach((answer, i) => {
          expect(answer.status, `rodada ${round}, ${i === 0 ? 'A' : `B${i}`}: ${JSON.stringify(answer.body)}`).toBe(201);
          expect(answer.body.id).toBe(answers[0]!.body.id);
        });
        const again = await agendar(b.rawApp, body, key).expect(201);
        expect(again.body.id).toBe(answers[0]!.body.id);
      }
      const list = await request(a.app).get('/consultas').query({ pacienteId: pacientes[0] }).expect(200);
      expect(list.body.total).toBe(8);
    }, 120_000);
  }),
);
