import { promises as fs } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { requestScope } from '../../src/core/context.js';
import type { AuditEntry } from '../../src/infra/audit/types.js';
import { COLLECTIONS } from '../../src/repositories/collections.js';
import { TEST_NOW, bearer, makeApp, pacienteBody, signIn, type TestApp } from '../helpers/app.js';
import { databaseOf, describeEachDriver } from '../helpers/drivers.js';
import { asSuperuser } from '../helpers/postgres.js';
import { CPFS, agendar, at, clinic } from '../helpers/scheduling.js';

/** Loopback as Express reports it (IPv4, IPv4-mapped IPv6 or IPv6). */
const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$|^::1$/;

/** The page of the trail the filters select, read as the signed-in admin. */
async function trail(app: TestApp['app'], query: Record<string, string | number>) {
  const res = await request(app).get('/sistema/auditoria').query(query).expect(200);
  return res.body as { items: AuditEntry[]; total: number };
}

/** The one entry a request left, found by the request id it answered with. */
function entryOf(items: AuditEntry[], requestId: string | undefined): AuditEntry {
  expect(requestId, 'the answer carries X-Request-Id').toMatch(/\S/);
  const found = items.filter((e) => e.requestId === requestId);
  expect(found, `one entry for request ${requestId}`).toHaveLength(1);
  return found[0]!;
}

interface Step {
  acao: string;
  requestId: string;
  recursoId?: string;
  status: number;
}

/**
 * A recepcao user works through a paciente's whole visit, one request a minute (so `em` orders the steps),
 * and an admin exports the paciente's data. Returns what each request should have left in the trail.
 */
async function frontDeskDay() {
  const clock = new ManualClock(TEST_NOW);
  const made = await makeApp({ clock });
  const { app, container } = made;
  const { medicoId } = await clinic(app, { pacientes: 0 });
  const recepcao = await signIn(container, 'recepcao');
  const admin = await signIn(container, 'admin');
  const steps: Step[] = [];
  const step = async (acao: string, status: number, send: () => Promise<request.Response>, recursoId?: (res: request.Response) => string) => {
    clock.advance(60_000);
    const res = await send();
    expect(res.status, `${acao}: ${JSON.stringify(res.body)}`).toBe(status);
    steps.push({ acao, status, requestId: res.headers['x-request-id']!, ...(recursoId ? { recursoId: recursoId(res) } : {}) });
    return res;
  };

  const created = await step('paciente.criar', 201, () => request(app).post('/pacientes').set(bearer(recepcao.token)).send(pacienteBody()), (r) => r.body.id);
  const pacienteId = created.body.id as string;
  await step('paciente.ler', 200, () => request(app).get(`/pacientes/${pacienteId}`).set(bearer(recepcao.token)), () => pacienteId);
  await step('paciente.listar', 200, () => request(app).get('/pacientes').set(bearer(recepcao.token)));
  const booked = await step('consulta.agendar', 201, () => agendar(app, { medicoId, pacienteId, inicio: at('08:00') }, bearer(recepcao.token)), (r) => r.body.id);
  const consultaId = booked.body.id as string;
  await step('consulta.listar', 200, () => request(app).get('/consultas').set(bearer(recepcao.token)));
  await step('consulta.ler', 200, () => request(app).get(`/consultas/${consultaId}`).set(bearer(recepcao.token)), () => consultaId);
  await step('consulta.cancelar', 200, () => request(app).post(`/consultas/${consultaId}/cancelar`).set(bearer(recepcao.token)).send({}), () => consultaId);
  clock.advance(60_000);
  const exported = await request(app).get(`/pacientes/${pacienteId}/dados`).set(bearer(admin.token)).expect(200);
  await container.auditor.flush();
  return { ...made, clock, recepcao, admin, steps, pacienteId, consultaId, exportRequestId: exported.headers['x-request-id']! };
}

describeEachDriver((driver) => {
  describe('audit trail: who did what', () => {
    it('when a recepcao user creates, reads, lists, books, reads and cancels, then each request left one entry in their name', async () => {
      const { app, recepcao, steps, pacienteId } = await frontDeskDay();
      const { items } = await trail(app, { usuarioId: recepcao.usuarioId, limit: 500 });
      for (const { acao, requestId, recursoId, status } of steps) {
        const entry = entryOf(items, requestId);
        expect(entry, acao).toMatchObject({ acao, usuarioId: recepcao.usuarioId, papel: 'recepcao', status, pacienteIds: [pacienteId] });
        expect(entry.recurso).toBe(acao.split('.')[0]);
        if (recursoId) expect(entry.recursoId, acao).toBe(recursoId);
        else expect(entry, acao).not.toHaveProperty('recursoId');
        expect(entry.ip, acao).toMatch(LOOPBACK);
        expect(entry.id).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it('when two users write at the same moment (one group commit), then each entry names the user who made that write', async () => {
      const { app, container } = await makeApp();
      const users = [await signIn(container, 'recepcao'), await signIn(container, 'admin')];
      // Sent together, the writes meet in one storage batch: the batch runs every transaction's work, so an
      // entry staged there must take its user from its own request, not from whichever request began the batch.
      const answers = await Promise.all(
        CPFS.map((cpf, i) => request(app).post('/pacientes').set(bearer(users[i % 2]!.token)).send(pacienteBody({ cpf, nome: `Paciente ${i}` }))),
      );
      await container.auditor.flush();
      const { items } = await trail(app, { acao: 'paciente.criar' });
      answers.forEach((res, i) => {
        expect(res.status).toBe(201);
        expect(entryOf(items, res.headers['x-request-id']), `paciente ${i}`).toMatchObject({ recursoId: res.body.id, usuarioId: users[i % 2]!.usuarioId });
      });
    });

    it('when an admin exports a paciente\'s data, then the export is on record in the admin\'s name', async () => {
      const { app, admin, pacienteId, exportRequestId } = await frontDeskDay();
      const { items } = await trail(app, { acao: 'paciente.exportar' });
      const entry = entryOf(items, exportRequestId);
      expect(entry).toMatchObject({
        acao: 'paciente.exportar', usuarioId: admin.usuarioId, papel: 'admin', recurso: 'paciente', recursoId: pacienteId, pacienteIds: [pacienteId], status: 200,
      });
      expect(entry.ip).toMatch(LOOPBACK);
    });

    it('when a client sends its own X-Request-Id, then the trail still records the server\'s id, never the client\'s', async () => {
      const { app, container } = await makeApp();
      const { pacienteId } = await clinic(app, { pacientes: 1 });
      const first = await request(app).get(`/pacientes/${pacienteId}`).set('X-Request-Id', 'forjado-pelo-cliente.1').expect(200);
      // Repeating another request's id must not attach an entry to it either.
      const second = await request(app).get(`/pacientes/${pacienteId}`).set('X-Request-Id', first.headers['x-request-id']!).expect(200);
      await container.auditor.flush();
      const { items } = await trail(app, { acao: 'paciente.ler' });
      expect(items.map((e) => e.requestId)).not.toContain('forjado-pelo-cliente.1');
      expect(first.headers['x-request-id']).not.toBe('forjado-pelo-cliente.1');
      expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
      expect(entryOf(items, first.headers['x-request-id'])).toMatchObject({ recursoId: pacienteId });
      expect(entryOf(items, second.headers['x-request-id'])).toMatchObject({ recursoId: pacienteId });
    });

    it('when a real user signs in with a wrong password, then auth.falha names that user', async () => {
      const { rawApp, app, container } = await makeApp();
      const usuario = await container.services.usuarios.create({ nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', ativo: true, senha: 'uma-senha-bem-longa' });
      const res = await request(rawApp).post('/auth/login').send({ email: 'rita@clinica.local', senha: 'senha-errada-123' }).expect(401);
      await container.auditor.flush();
      const { items } = await trail(app, { acao: 'auth.falha' });
      const entry = entryOf(items, res.headers['x-request-id']);
      expect(entry).toMatchObject({ acao: 'auth.falha', usuarioId: usuario.id, papel: 'recepcao', recurso: 'sessao', status: 401 });
      expect(entry.ip).toMatch(LOOPBACK);
    });

    it('when the trail is filtered by user, paciente, action or period, then only matches come, newest first, with the exact total', async () => {
      const { app, recepcao, steps, pacienteId, exportRequestId } = await frontDeskDay();
      const newestFirst = steps.map((s) => s.requestId).reverse();

      const byUser = await trail(app, { usuarioId: recepcao.usuarioId });
      expect(byUser.total).toBe(steps.length);
      expect(byUser.items.map((e) => e.requestId)).toEqual(newestFirst);
      const times = byUser.items.map((e) => Date.parse(e.em));
      expect(times).toEqual([...times].sort((a, b) => b - a));

      const byPaciente = await trail(app, { pacienteId });
      expect(byPaciente.items.map((e) => e.requestId)).toEqual([exportRequestId, ...newestFirst]);
      expect(byPaciente.total).toBe(steps.length + 1);

      const byAcao = await trail(app, { acao: 'paciente.ler' });
      expect(byAcao).toMatchObject({ total: 1, items: [{ requestId: steps[1]!.requestId }] });

      // Steps 2–4 (ler, listar, agendar), one minute apart: both bounds are inclusive.
      const de = byUser.items.find((e) => e.requestId === steps[1]!.requestId)!.em;
      const ate = byUser.items.find((e) => e.requestId === steps[3]!.requestId)!.em;
      const period = await trail(app, { de, ate });
      expect(period.items.map((e) => e.acao)).toEqual(['consulta.agendar', 'paciente.listar', 'paciente.ler']);
      expect(period.total).toBe(3);

      const page = await trail(app, { usuarioId: recepcao.usuarioId, limit: 3, offset: 2 });
      expect(page.total).toBe(steps.length);
      expect(page.items.map((e) => e.requestId)).toEqual(newestFirst.slice(2, 5));
    });
  });

  describe('audit trail: work done outside the request', () => {
    it('when a booking is accepted with Prefer: respond-async, then the worker audits it in the name of the user who asked', async () => {
      const { app, container } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const recepcao = await signIn(container, 'recepcao');
      // The worker must not find the requester's context by accident: AsyncLocalStorage would hand it down if the
      // queue started the task inside the request's call (as it does while the lane has room). Under load a task
      // starts later, from whatever finished before it; here it starts inside a foreign context, as it would then.
      const add = container.queue.add.bind(container.queue);
      vi.spyOn(container.queue, 'add').mockImplementation((tipo, payload) =>
        requestScope.run({ requestId: 'outro-contexto', ip: '10.9.9.9' }, () => add(tipo, payload)),
      );
      const res = await agendar(app, { medicoId, pacienteId, inicio: at('09:00') }, { ...bearer(recepcao.token), Prefer: 'respond-async' }).expect(202);
      await container.queue.onIdle();
      await container.auditor.flush();
      const task = await request(app).get(`/sistema/tasks/${res.body.id}`).expect(200);
      expect(task.body.status).toBe('concluida');

      const { items } = await trail(app, { acao: 'consulta.agendar' });
      expect(entryOf(items, res.headers['x-request-id'])).toMatchObject({
        usuarioId: recepcao.usuarioId, papel: 'recepcao', pacienteIds: [pacienteId], status: 201,
      });
      expect(items.find((e) => e.requestId === 'outro-contexto')).toBeUndefined();
    });
  });

  describe('audit trail: verification over HTTP', () => {
    /** Six entries (three pacientes created, each read once), which verification finds whole. */
    async function sixEntries() {
      const made = await makeApp();
      const { app, container } = made;
      for (const cpf of CPFS.slice(0, 3)) {
        const { body } = await request(app).post('/pacientes').send(pacienteBody({ cpf })).expect(201);
        await request(app).get(`/pacientes/${body.id}`).expect(200);
      }
      await container.auditor.flush();
      const verification = await request(app).get('/sistema/auditoria/verificacao').expect(200);
      expect(verification.body).toEqual({ integra: true, entradas: 6 });
      return made;
    }

    if (driver === 'json') {
      /** The six entries' month file: its path and lines. */
      async function filledTrail() {
        const made = await sixEntries();
        const dir = path.join(made.dataDir, 'auditoria');
        const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.jsonl'));
        expect(files).toEqual(['2026-11.jsonl']);
        const file = path.join(dir, files[0]!);
        const lines = (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean);
        expect(lines).toHaveLength(6);
        return { ...made, file, lines };
      }

      const tamper: Record<string, (lines: string[]) => string[]> = {
        // A field changed, the stored hashes kept: the line no longer hashes to its own `hash`.
        'an edited line': (lines) => lines.map((l, i) => (i === 2 ? JSON.stringify({ ...JSON.parse(l), usuarioId: 'outra-pessoa' }) : l)),
        'a deleted line': (lines) => lines.filter((_, i) => i !== 2),
        'two reordered lines': (lines) => [...lines.slice(0, 2), lines[3]!, lines[2]!, ...lines.slice(4)],
      };

      for (const [what, change] of Object.entries(tamper)) {
        it(`when the month file holds ${what}, then verification says it is not intact and points at line 3`, async () => {
          const { app, file, lines } = await filledTrail();
          await fs.writeFile(file, change(lines).join('\n') + '\n');
          const res = await request(app).get('/sistema/auditoria/verificacao').expect(200);
          expect(res.body).toEqual({ integra: false, entradas: 2, primeiraQuebra: { arquivo: '2026-11.jsonl', linha: 3 } });
        });
      }
    } else {
      /** The six entries' rows in the table (their seqs), and no audit file in the data directory. */
      async function filledTable() {
        const made = await sixEntries();
        await expect(fs.readdir(path.join(made.dataDir, 'auditoria'))).rejects.toMatchObject({ code: 'ENOENT' });
        const url = databaseOf(made.dataDir)!;
        const seqs = await asSuperuser(url, async (c) => (await c.query<{ seq: string }>('SELECT seq FROM auditoria ORDER BY seq')).rows.map((r) => Number(r.seq)));
        expect(seqs).toHaveLength(6);
        return { ...made, url, seqs };
      }

      // Rows changed behind the append-only trigger's back, as a role allowed to disable it could.
      // `$1` is the third row's seq, `$2` the fourth's; `breaksAt` the index of the row the chain breaks at.
      const tamper: Record<string, { sql: string; params: number; breaksAt: number }> = {
        'an edited row': { sql: `UPDATE auditoria SET linha = replace(linha::text, '"status":201', '"status":200')::json WHERE seq = $1`, params: 1, breaksAt: 2 },
        'a deleted row': { sql: 'DELETE FROM auditoria WHERE seq = $1', params: 1, breaksAt: 3 },
        'two swapped entries': {
          sql: `UPDATE auditoria a SET linha = b.linha, hash = b.hash, hash_anterior = b.hash_anterior, em = b.em, usuario_id = b.usuario_id, acao = b.acao,
                paciente_ids = b.paciente_ids FROM auditoria b WHERE (a.seq, b.seq) IN (($1, $2), ($2, $1))`,
          params: 2,
          breaksAt: 2,
        },
      };

      for (const [what, { sql, params, breaksAt }] of Object.entries(tamper)) {
        it(`when the table holds ${what}, then verification says it is not intact and points at the seq of the break`, async () => {
          const { app, url, seqs } = await filledTable();
          await asSuperuser(url, async (c) => {
            await c.query('BEGIN');
            await c.query('ALTER TABLE auditoria DISABLE TRIGGER auditoria_somente_inclusao');
            expect((await c.query(sql, seqs.slice(2, 2 + params))).rowCount).toBeGreaterThan(0);
            await c.query('ALTER TABLE auditoria ENABLE TRIGGER auditoria_somente_inclusao');
            await c.query('COMMIT');
          });
          const res = await request(app).get('/sistema/auditoria/verificacao').expect(200);
          expect(res.body).toEqual({ integra: false, entradas: 2, primeiraQuebra: { arquivo: 'auditoria', linha: seqs[breaksAt] } });
        });
      }
    }
  });

  describe('audit trail: the outbox', () => {
    it('when writes of every kind have committed and the auditor flushed, then no entry is left staged', async () => {
      const { app, rawApp, container } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const booked = await agendar(app, { medicoId, pacienteId, inicio: at('10:00') }).expect(201);
      await request(app).post(`/consultas/${booked.body.id}/cancelar`).send({}).expect(200);
      await request(app).put(`/pacientes/${pacienteId}`).send(pacienteBody({ nome: 'Outro Nome' })).expect(200);
      await request(app).post('/usuarios').send({ nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', senha: 'uma-senha-bem-longa' }).expect(201);
      await request(rawApp).post('/auth/login').send({ email: 'rita@clinica.local', senha: 'uma-senha-bem-longa' }).expect(200);
      await container.auditor.flush();

      expect((await container.storage.counts())[COLLECTIONS.auditoriaPendente]).toBe(0);
      const { items } = await trail(app, { limit: 500 });
      const acoes = items.map((e) => e.acao);
      for (const acao of ['medico.criar', 'paciente.criar', 'consulta.agendar', 'consulta.cancelar', 'paciente.atualizar', 'usuario.criar', 'auth.login']) {
        expect(acoes, acao).toContain(acao);
      }
    });
  });
});
