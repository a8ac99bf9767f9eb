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
    it.skipIf(driver === 'json')('when both get the same keyed booking at once, then both answer the one booking, and later retries replay it', async () => {
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
        const second = await agendar(b.rawApp, body, key);
        const answers = [await first, second];
        for (const answer of answers) {
          expect(answer.status, `rodada ${round}, ${answer === answers[0] ? "A" : "B"}: ${JSON.stringify(answer.body)}`).toBe(201);
        }
        expect(answers[1]!.body.id).toBe(answers[0]!.body.id);
        const again = await agendar(b.rawApp, body, key).expect(201);
        expect(again.body.id).toBe(answers[0]!.body.id);
      }
      const list = await request(a.app).get('/consultas').query({ pacienteId: pacientes[0] }).expect(200);
      expect(list.body.total).toBe(8);
    }, 120_000);
  }),
);
