import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { NO_PASSWORD_HASH, TEST_NOW, bearer, makeApp } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { listen, openStream } from '../helpers/sse.js';

const SENHA = 'uma-senha-bem-longa';

/** An app with a real user (scrypt-hashed password) of the given role. */
async function withUser(papel: 'admin' | 'recepcao' = 'recepcao', env: Record<string, string> = {}) {
  const clock = new ManualClock(TEST_NOW);
  const made = await makeApp({ clock, signedIn: false, env });
  const { container } = made;
  const usuario = await container.services.usuarios.create({ nome: 'Rita', email: 'rita@clinica.local', papel, ativo: true, senha: SENHA });
  const login = (email = 'rita@clinica.local', senha = SENHA) => request(made.app).post('/auth/login').send({ email, senha });
  return { ...made, clock, usuario, login };
}

describeEachDriver(() => {
  describe('POST /auth/login', () => {
    it('when the password is right, then a token, the user and an HttpOnly SameSite=Lax cookie come back, and both work', async () => {
      const { app, login } = await withUser();
      const res = await login('RITA@clinica.local').expect(200);
      expect(res.body).toMatchObject({ token: expect.any(String), expiraEm: expect.any(String), usuario: { email: 'rita@clinica.local', papel: 'recepcao' } });
      expect(res.body.usuario).not.toHaveProperty('senhaHash');
      const cookie = res.headers['set-cookie']![0]!;
      expect(cookie).toMatch(/^sessao=[\w-]+;/);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\//);
      expect(cookie).not.toMatch(/Secure/);
      expect(res.headers['cache-control']).toBe('no-store');

      await request(app).get('/auth/sessao').set(bearer(res.body.token)).expect(200);
      const viaCookie = await request(app).get('/auth/sessao').set('Cookie', cookie.split(';')[0]!).expect(200);
      expect(viaCookie.body.usuario.email).toBe('rita@clinica.local');
    });

    it('when a stored password hash is malformed or asks for an extreme cost (as a hand-made data file could hold), then sign-in answers 401, never 500', async () => {
      const { container, login, usuario, clock } = await withUser();
      const [, , , , salt, key] = NO_PASSWORD_HASH.split('$');
      for (const senhaHash of [`scrypt$abc$8$1$${salt}$${key}`, `scrypt$3$8$1$${salt}$${key}`, `scrypt$${2 ** 20}$8$1$${salt}$${key}`, `scrypt$32768$1000$1$${salt}$${key}`, 'scrypt$hash']) {
        await container.storage.run(async (tx) => {
          const record = (await tx.usuarios.get(usuario.id))!;
          await tx.usuarios.save({ ...record, senhaHash });
        });
        const res = await login();
        expect(res.status, senhaHash).toBe(401);
        expect(res.body).toMatchObject({ type: '/problemas/credenciais-invalidas' });
        clock.advance(16 * 60_000); // past the lockout's window: each attempt is a first failure
      }
    });

    it('when COOKIE_SECURE=true, then the cookie is Secure', async () => {
      const { login } = await withUser('recepcao', { COOKIE_SECURE: 'true' });
      const res = await login().expect(200);
      expect(res.headers['set-cookie']![0]).toMatch(/Secure/);
    });

    it('when the e-mail is unknown or the password wrong, then the same 401 answer, in about the same time', async () => {
      const { login } = await withUser();
      const unknown = await login('ninguem@clinica.local', SENHA);
      const wrong = await login('rita@clinica.local', 'senha-errada-123');
      expect(unknown.status).toBe(401);
      expect(wrong.status).toBe(401);
      const strip = (b: Record<string, unknown>) => ({ ...b, instance: undefined });
      expect(strip(unknown.body)).toEqual(strip(wrong.body));
      expect(unknown.body).toMatchObject({ type: '/problemas/credenciais-invalidas', detail: 'E-mail ou senha incorretos.' });

      // Timing: both pay one scrypt. Medians of interleaved runs, other e-mails so the lockout stays out of it.
      const times = { unknown: [] as number[], wrong: [] as number[] };
      for (let i = 0; i < 4; i++) {
        let t = performance.now();
        await login(`outro${i}@clinica.local`, SENHA);
        times.unknown.push(performance.now() - t);
        t = performance.now();
        await login('rita@clinica.local', `errada-${i}-xxxxxx`);
        times.wrong.push(performance.now() - t);
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const ratio = median(times.unknown) / median(times.wrong);
      expect(ratio).toBeGreaterThan(1 / 3);
      expect(ratio).toBeLessThan(3);
    });

    it('when an account fails 5 times in 15 minutes, then even the right password gets 429 with Retry-After until the window passes', async () => {
      const { login, clock } = await withUser();
      for (let i = 0; i < 5; i++) expect((await login('rita@clinica.local', `errada-${i}-xxxxxx`)).status).toBe(401);
      const locked = await login();
      expect(locked.status).toBe(429);
      expect(locked.body).toMatchObject({ type: '/problemas/muitas-tentativas', status: 429 });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(15 * 60);
      // An unknown e-mail locks the same way, so the lock does not reveal which e-mails exist.
      for (let i = 0; i < 5; i++) await login('fantasma@clinica.local', `errada-${i}-xxxxxx`);
      expect((await login('fantasma@clinica.local', 'qualquer-coisa')).status).toBe(429);

      clock.advance(15 * 60_000 + 1000);
      await login().expect(200);
    });

    it('when the body is malformed or the user inactive, then 400 or 401 problem+json', async () => {
      const { app, login, container, usuario } = await withUser();
      const bad = await request(app).post('/auth/login').send({ email: 5 });
      expect(bad.status).toBe(400);
      expect(bad.headers['content-type']).toMatch(/problem\+json/);
      await container.services.usuarios.replace(usuario.id, { nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', ativo: false });
      expect((await login()).status).toBe(401);
    });
  });

  describe('sessions', () => {
    it('when logging out, then the token stops working at once', async () => {
      const { app, login } = await withUser();
      const { token } = (await login().expect(200)).body;
      await request(app).post('/auth/logout').set(bearer(token)).expect(204);
      const after = await request(app).get('/auth/sessao').set(bearer(token));
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({ type: '/problemas/nao-autenticado' });
    });

    it('when a session is idle longer than SESSION_TTL_MIN, then it expires; use renews it', async () => {
      const { app, login, clock } = await withUser('recepcao', { SESSION_TTL_MIN: '30' });
      const { token } = (await login().expect(200)).body;
      clock.advance(25 * 60_000);
      await request(app).get('/auth/sessao').set(bearer(token)).expect(200); // renews
      clock.advance(25 * 60_000);
      await request(app).get('/auth/sessao').set(bearer(token)).expect(200);
      clock.advance(31 * 60_000);
      expect((await request(app).get('/auth/sessao').set(bearer(token))).status).toBe(401);
    });

    it('when the password changes, then other sessions end, this one stays, and only the new password signs in', async () => {
      const { app, login } = await withUser();
      const a = (await login().expect(200)).body.token;
      const b = (await login().expect(200)).body.token;
      const wrong = await request(app).post('/auth/senha').set(bearer(a)).send({ senhaAtual: 'nao-e-esta-aqui', novaSenha: 'nova-senha-longa' });
      expect(wrong.status).toBe(401);
      await request(app).post('/auth/senha').set(bearer(a)).send({ senhaAtual: SENHA, novaSenha: 'nova-senha-longa' }).expect(204);
      await request(app).get('/auth/sessao').set(bearer(a)).expect(200);
      expect((await request(app).get('/auth/sessao').set(bearer(b))).status).toBe(401);
      expect((await login()).status).toBe(401);
      await login('rita@clinica.local', 'nova-senha-longa').expect(200);
      const short = await request(app).post('/auth/senha').set(bearer(a)).send({ senhaAtual: 'nova-senha-longa', novaSenha: 'curta' });
      expect(short.status).toBe(400);
    });

    it('when the current password is guessed wrong 5 times, then the 6th change (even right) and sign-ins get 429 until the window passes', async () => {
      const { app, login, clock } = await withUser();
      const { token } = (await login().expect(200)).body;
      const change = (senhaAtual: string) => request(app).post('/auth/senha').set(bearer(token)).send({ senhaAtual, novaSenha: 'nova-senha-longa' });
      for (let i = 0; i < 5; i++) expect((await change(`palpite-${i}-errado`)).status).toBe(401);
      const locked = await change(SENHA);
      expect(locked.status).toBe(429);
      expect(locked.body).toMatchObject({ type: '/problemas/muitas-tentativas' });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await login()).status).toBe(429);
      clock.advance(15 * 60_000 + 1000);
      await change(SENHA).expect(204);
      await login('rita@clinica.local', 'nova-senha-longa').expect(200);
    });

    it('when an admin changes a user\'s role, then the next request already has the new role', async () => {
      const { app, login, usuario, adminToken } = await withUser();
      const { token } = (await login().expect(200)).body;
      await request(app).get('/pacientes').set(bearer(token)).expect(200);
      await request(app)
        .put(`/usuarios/${usuario.id}`)
        .set(bearer(adminToken))
        .send({ nome: 'Rita', email: 'rita@clinica.local', papel: 'admin', ativo: true })
        .expect(200);
      // A role change ends the user's sessions: they sign in again and get the new role.
      expect((await request(app).get('/pacientes').set(bearer(token))).status).toBe(401);
      const again = (await login().expect(200)).body;
      expect(again.usuario.papel).toBe('admin');
      await request(app).get('/usuarios').set(bearer(again.token)).expect(200);
    });

    it('when a session ends or its user changes, then its open event streams end too (agenda and log streams)', async () => {
      const { app, login, usuario, adminToken, container } = await withUser('admin', { SSE_HEARTBEAT_MS: '100' });
      const server = await listen(app);
      try {
        const open = async (token: string, path = '/sistema/agenda/stream') => {
          const stream = await openStream(`${server.url}${path}`, bearer(token));
          expect(stream.response.status).toBe(200);
          await stream.until(() => stream.comments.includes('ping'));
          return stream;
        };
        const waitEnded = async (stream: Awaited<ReturnType<typeof open>>) => {
          const deadline = Date.now() + 5000;
          while (!stream.ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
          return stream.ended;
        };
        // Logout: the session's own streams end; another session of the same user keeps its stream.
        const a = (await login().expect(200)).body.token;
        const b = (await login().expect(200)).body.token;
        const [agendaA, logsA, agendaB] = [await open(a), await open(a, '/sistema/logs/stream'), await open(b)];
        await request(app).post('/auth/logout').set(bearer(a)).expect(204);
        expect(await waitEnded(agendaA)).toBe(true);
        expect(await waitEnded(logsA)).toBe(true);
        const pings = agendaB.comments.length;
        await agendaB.until(() => agendaB.comments.length > pings + 2);
        expect(agendaB.ended).toBe(false);
        // Password changed from another session: the other sessions' streams end.
        const c = (await login().expect(200)).body.token;
        await request(app).post('/auth/senha').set(bearer(c)).send({ senhaAtual: SENHA, novaSenha: 'nova-senha-longa' }).expect(204);
        expect(await waitEnded(agendaB)).toBe(true);
        // Demoted and deactivated by another admin: the log stream of a former admin ends.
        const logsC = await open(c, '/sistema/logs/stream');
        await request(app)
          .put(`/usuarios/${usuario.id}`)
          .set(bearer(adminToken))
          .send({ nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', ativo: false })
          .expect(200);
        expect(await waitEnded(logsC)).toBe(true);
        expect(container.agendaBroker.clientCount + container.logsBroker.clientCount).toBe(0);
        // A stream that stays valid is never cut by the checks.
        const admin = await open(adminToken);
        const seen = admin.comments.length;
        await admin.until(() => admin.comments.length > seen + 3);
        expect(admin.ended).toBe(false);
        admin.close();
      } finally {
        await server.close();
      }
    });

    it('when an event stream is asked with HEAD, then the headers come back at once and no stream is held', async () => {
      const { app, login, container } = await withUser();
      const { token } = (await login().expect(200)).body;
      const server = await listen(app);
      try {
        for (const path of ['/sistema/agenda/stream']) {
          const res = await fetch(`${server.url}${path}`, { method: 'HEAD', headers: bearer(token), signal: AbortSignal.timeout(5000) });
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        }
        expect(container.agendaBroker.clientCount).toBe(0);
        // Anonymous HEAD is still refused.
        expect((await fetch(`${server.url}/sistema/agenda/stream`, { method: 'HEAD' })).status).toBe(401);
      } finally {
        await server.close();
      }
    });

    it('when tokens are forged or malformed, then 401, never 500', async () => {
      const { app } = await withUser();
      for (const header of ['Bearer x', 'Bearer ' + 'a'.repeat(43), 'Basic abc', 'Bearer ' + 'é'.repeat(30), 'Bearer ' + 'a'.repeat(5000)]) {
        const res = await request(app).get('/pacientes').set('Authorization', header);
        expect(res.status).toBe(401);
      }
      const cookie = await request(app).get('/pacientes').set('Cookie', 'sessao=' + 'b'.repeat(43));
      expect(cookie.status).toBe(401);
    });
  });

  describe('first admin and users', () => {
    it('when an admin creates users, then e-mails are unique, medico needs a médico, and the hash never comes back', async () => {
      const { app, adminToken } = await withUser();
      const auth = bearer(adminToken);
      const created = await request(app).post('/usuarios').set(auth).send({ nome: 'Bia', email: 'bia@clinica.local', papel: 'recepcao', senha: 'senha-da-bia-123' });
      expect(created.status).toBe(201);
      expect(created.headers.location).toBe(`/usuarios/${created.body.id}`);
      expect(JSON.stringify(created.body)).not.toMatch(/senha/i);
      const dup = await request(app).post('/usuarios').set(auth).send({ nome: 'Bia 2', email: 'BIA@clinica.local', papel: 'recepcao', senha: 'senha-da-bia-123' });
      expect(dup.body).toMatchObject({ status: 409, type: '/problemas/email-duplicado' });
      const noMedico = await request(app).post('/usuarios').set(auth).send({ nome: 'Dr', email: 'dr@clinica.local', papel: 'medico', senha: 'senha-do-dr-123' });
      expect(noMedico.status).toBe(400);
      expect(noMedico.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'medicoId' })]));
      const list = await request(app).get('/usuarios').set(auth).expect(200);
      expect(JSON.stringify(list.body)).not.toMatch(/senhaHash|scrypt/);
    });

    it('when the first start has no users, then an admin is created from ADMIN_EMAIL/ADMIN_SENHA, or with a printed password', async () => {
      const { container, app } = await makeApp({ signedIn: false });
      // makeApp already made its own admin directly in the store; a fresh store shows the first-start path.
      expect(await container.services.usuarios.ensureFirstAdmin('chefe@clinica.local', 'senha-inicial-123')).toBeUndefined();
      const fresh = await makeApp({ signedIn: false, env: { SEED: 'false' } });
      for (const u of (await fresh.container.storage.usuarios.list(10, 0)).items) {
        await fresh.container.storage.run((tx) => tx.usuarios.remove(u.id));
      }
      const generated = await fresh.container.services.usuarios.ensureFirstAdmin('chefe@clinica.local', undefined);
      expect(generated).toMatch(/^[\w-]{20}$/);
      await request(fresh.app).post('/auth/login').send({ email: 'chefe@clinica.local', senha: generated }).expect(200);
      expect(app).toBeDefined();
    });

    it('when the last active admin would be removed or demoted, then 409', async () => {
      const { app, container, adminToken } = await withUser();
      const admins = (await container.storage.usuarios.list(50, 0)).items.filter((u) => u.papel === 'admin');
      expect(admins).toHaveLength(1);
      const res = await request(app).delete(`/usuarios/${admins[0]!.id}`).set(bearer(adminToken));
      expect(res.body).toMatchObject({ status: 409, type: '/problemas/ultimo-admin' });
    });
  });
});
