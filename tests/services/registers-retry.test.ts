import { describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS, REFERENCE_FIELDS } from '../../src/repositories/collections.js';
import type { Work } from '../../src/repositories/port.js';
import { silentLogger } from '../helpers/logger.js';
import { tempDir } from '../helpers/tmp.js';

/** Thrown by the first attempt of each unit of work, after `work` ran: the driver rolls it back. */
const CONFLICT = new Error('serialization failure (simulated)');

/**
 * A container whose storage runs every unit of work twice, as the PostgreSQL driver does after a serialization
 * failure: the first attempt runs in full and is rolled back, the second commits. Services must give the same
 * result as with one attempt: no side effects may happen inside the unit.
 */
async function retrying(): Promise<{ container: Container; attempts: () => number }> {
  const dir = tempDir('agenda-retry-');
  const container = await createContainer(loadConfig({ DATA_DIR: dir, BACKUP_DIR: `${dir}/b`, REPORTS_DIR: `${dir}/r`, SEED: 'false' }), {
    store: new MemoryStore(ALL_COLLECTIONS, REFERENCE_FIELDS),
    logger: silentLogger,
    clock: new ManualClock(new Date('2026-11-30T15:00:00Z')),
  });
  const { storage } = container;
  const run = storage.run.bind(storage);
  let attempts = 0;
  storage.run = async <R>(work: Work<R>): Promise<R> => {
    attempts += 1;
    await run(async (tx) => {
      await work(tx);
      throw CONFLICT;
    }).catch((error: unknown) => {
      if (error !== CONFLICT) throw error;
    });
    attempts += 1;
    return run(work);
  };
  return { container, attempts: () => attempts };
}

const medico = {
  nome: 'Ana', crm: '1234/SP', especialidade: 'Clínica', email: null, telefone: null, duracaoConsultaMin: 30, maxEncaixesDia: 2, horarios: [], ativo: true,
};
const paciente = { nome: 'João Lima', cpf: '52998224725', dataNascimento: '1990-05-12', email: null, telefone: null };

describe('registers when a unit of work runs twice (a retried serialization failure)', () => {
  it('when médicos, pacientes and usuários are written, then each answer is what was stored, and each write is audited once', async () => {
    const { container, attempts } = await retrying();
    const { medicos, pacientes, usuarios, auth } = container.services;

    const m = await medicos.create(medico);
    expect(await container.storage.medicos.get(m.id)).toEqual(m);
    const m2 = await medicos.replace(m.id, { ...medico, nome: 'Ana B.' });
    expect(await container.storage.medicos.get(m.id)).toEqual(m2);

    const p = await pacientes.create(paciente);
    expect(await container.storage.pacientes.get(p.id)).toEqual(p);
    const anon = await pacientes.anonimizar(p.id);
    expect(await container.storage.pacientes.get(p.id)).toEqual(anon);

    const admin = await usuarios.ensureFirstAdmin('chefe@clinica.local', 'senha-inicial-123');
    expect(admin).toBe('senha-inicial-123');
    const u = await usuarios.create({ nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', ativo: true, senha: 'uma-senha-bem-longa' });
    expect(await usuarios.get(u.id)).toEqual(u);
    const login = await auth.login('rita@clinica.local', 'uma-senha-bem-longa');
    expect((await container.storage.sessoes.ofUser(u.id)).map((s) => s.usuarioId)).toEqual([u.id]);
    const signedIn = await auth.authenticate(login.token);
    expect(signedIn?.usuario.id).toBe(u.id);
    await auth.changePassword(signedIn!.actor, 'uma-senha-bem-longa', 'outra-senha-bem-longa');
    await auth.logout(signedIn!.actor);
    expect(await container.storage.sessoes.ofUser(u.id)).toEqual([]);
    await medicos.remove(m.id);
    expect(await container.storage.medicos.get(m.id)).toBeUndefined();

    expect(attempts()).toBeGreaterThanOrEqual(2 * 10);
    await container.auditor.flush();
    const acoes = (await container.auditLog.query({ limit: 100, offset: 0 })).items.map((e) => e.acao).sort();
    expect(acoes).toEqual(
      [
        'auth.login', 'auth.logout', 'auth.senha', 'medico.atualizar', 'medico.criar', 'medico.excluir', 'paciente.anonimizar', 'paciente.criar',
        'usuario.criar', 'usuario.criar',
      ].sort(),
    );
    await container.close();
  });

  it('when two processes make the first admin at once, then one admin exists and only one of them says so', async () => {
    const { container } = await retrying();
    const answers = await Promise.all([
      container.services.usuarios.ensureFirstAdmin('chefe@clinica.local', 'senha-inicial-123'),
      container.services.usuarios.ensureFirstAdmin('chefe@clinica.local', 'senha-inicial-123'),
    ]);
    expect(answers.filter((a) => a !== undefined)).toHaveLength(1);
    expect(await container.storage.usuarios.count()).toBe(1);
    await container.close();
  });
});
