import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { requestScope } from '../../src/core/context.js';
import { AppError } from '../../src/core/errors.js';
import type { AuditEntry } from '../../src/infra/audit/types.js';
import { PgStorage } from '../../src/infra/storage/postgres/pg-storage.js';
import { PgLimits } from '../../src/infra/storage/postgres/limits.js';
import type { MedicoInput } from '../../src/schemas/medico.schema.js';
import { Auditor, type AuditSink } from '../../src/services/audit.service.js';
import { AuthService } from '../../src/services/auth.service.js';
import { MedicoService } from '../../src/services/medico.service.js';
import { PacienteService } from '../../src/services/paciente.service.js';
import { UsuarioService } from '../../src/services/usuario.service.js';
import { silentLogger } from '../helpers/logger.js';
import { throwawayCluster } from '../helpers/cluster.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import { consulta } from '../storage/port-fixtures.js';

/**
 * The register services (médicos, pacientes, usuários, sessions) on the PostgreSQL driver, and two "processes"
 * (two PgStorage pools on one database) racing on the rules the database backs: unique CRM, CPF and e-mail, and
 * the first admin.
 */

const TZ = 'America/Sao_Paulo';
const NOW = new Date('2026-11-30T15:00:00Z'); // a Monday, 12:00 in São Paulo

/** An audit sink in memory: what the services' writes and reads put in the trail. */
class MemorySink implements AuditSink {
  readonly entries: AuditEntry[] = [];
  async append(entries: AuditEntry[]): Promise<void> {
    this.entries.push(...entries);
  }
  async appendMissing(entries: AuditEntry[]): Promise<void> {
    for (const e of entries) if (!this.entries.some((x) => x.id === e.id)) this.entries.push(e);
  }
}

/** One server process's worth of register services over its own pool. */
async function processOn(url: string) {
  const storage = new PgStorage({ url, logger: silentLogger, poolMax: 4, feedPollMs: 200, applicationName: 'registros' });
  await storage.open();
  const clock = new ManualClock(NOW);
  const sink = new MemorySink();
  const auditor = new Auditor({ storage, sink, clock, timezone: TZ, logger: silentLogger });
  const common = { storage, auditor, clock, timezone: TZ, logger: silentLogger };
  return {
    storage,
    clock,
    sink,
    medicos: new MedicoService(common),
    pacientes: new PacienteService({ ...common, auditOf: async (id) => sink.entries.filter((e) => e.pacienteIds?.includes(id)) }),
    usuarios: new UsuarioService(common),
    auth: new AuthService({ ...common, loginFailures: new PgLimits({ pool: storage.pool }).failures, sessionTtlMin: 60 }),
    close: async () => {
      await auditor.close();
      await storage.close();
    },
  };
}

const medicoInput = (crm: string, overrides: Partial<MedicoInput> = {}): MedicoInput => ({
  nome: 'Ana Souza', crm, especialidade: 'Cardiologia', email: null, telefone: null, duracaoConsultaMin: 30, maxEncaixesDia: 2, ativo: true,
  horarios: [{ diaSemana: 2, inicio: '08:00', fim: '12:00' }],
  ...overrides,
});
const pacienteInput = (cpf: string, nome = 'João Lima') => ({ nome, cpf, dataNascimento: '1990-05-12', email: 'joao@example.com', telefone: null });

describe.skipIf(skipWithoutPostgres())('register services on PostgreSQL', () => {
  const pg15 = throwawayCluster();

  async function processes(n: number) {
    const url = await pg15.database('registros');
    const made = [];
    for (let i = 0; i < n; i++) made.push(pg15.track(await processOn(url)));
    return made;
  }

  it('when médicos are created, replaced and removed, then the rules hold as on the JSON driver', async () => {
    const [a] = await processes(1);
    const m = await a!.medicos.create(medicoInput('1234/SP'));
    expect(await a!.medicos.get(m.id)).toEqual(m);
    expect((await a!.medicos.list({ q: 'ana', limit: 10, offset: 0 })).items.map((x) => x.id)).toEqual([m.id]);
    await expect(a!.medicos.create(medicoInput('1234/SP', { nome: 'Outra' }))).rejects.toMatchObject({ code: 'CRM_DUPLICADO' });

    // A future consulta at Tuesday 08:00 holds the grid: a new duration that moves it is refused with its id.
    const p = await a!.pacientes.create(pacienteInput('52998224725'));
    const c = consulta(m.id, p.id, '2026-12-01T08:00:00-03:00', '2026-12-01T08:30:00-03:00');
    await a!.storage.run((tx) => tx.consultas.save(c));
    const refused = await a!.medicos.replace(m.id, medicoInput('1234/SP', { duracaoConsultaMin: 45 })).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONSULTAS_AFETADAS', extras: { consultas: [c.id] } });
    expect((await a!.medicos.replace(m.id, medicoInput('1234/SP', { nome: 'Ana B.' }))).nome).toBe('Ana B.');
    await expect(a!.medicos.remove(m.id)).rejects.toMatchObject({ code: 'EXCLUSAO_BLOQUEADA' });
    await expect(a!.pacientes.remove(p.id)).rejects.toMatchObject({ code: 'EXCLUSAO_BLOQUEADA' });

    // A médico user lists only pacientes with a consulta with them.
    const other = await a!.pacientes.create(pacienteInput('11144477735', 'Maria'));
    const asMedico = (fn: () => Promise<unknown>) =>
      requestScope.run({ requestId: 'r', ip: '', actor: { usuarioId: 'u', papel: 'medico', medicoId: m.id, sessionId: 's' } }, fn);
    const seen = (await asMedico(() => a!.pacientes.list({ limit: 10, offset: 0 }))) as { items: { id: string }[]; total: number };
    expect(seen.items.map((x) => x.id)).toEqual([p.id]);
    await expect(asMedico(() => a!.pacientes.get(other.id))).rejects.toMatchObject({ code: 'ACESSO_NEGADO' });

    const anon = await a!.pacientes.anonimizar(p.id);
    expect(anon).toMatchObject({ nome: 'Paciente anonimizado', cpf: '', dataNascimento: '1990-01-01' });
    const dados = await a!.pacientes.dados(p.id);
    expect(dados.consultas.map((x) => x.id)).toEqual([c.id]);
  });

  it('when two processes register the same CRM, CPF or e-mail at once, then exactly one succeeds and the other gets the 409 of the rule', async () => {
    const [a, b] = await processes(2);
    for (let round = 0; round < 5; round++) {
      const crm = `${9000 + round}/SP`;
      const cpf = ['52998224725', '11144477735', '39053344705', '15350946056', '86288366757'][round]!;
      const email = `rita${round}@clinica.local`;
      const results = await Promise.allSettled([
        a!.medicos.create(medicoInput(crm)), b!.medicos.create(medicoInput(crm)),
        a!.pacientes.create(pacienteInput(cpf)), b!.pacientes.create(pacienteInput(cpf)),
        a!.usuarios.create({ nome: 'Rita', email, papel: 'recepcao', ativo: true, senha: 'uma-senha-bem-longa' }),
        b!.usuarios.create({ nome: 'Rita', email, papel: 'recepcao', ativo: true, senha: 'uma-senha-bem-longa' }),
      ]);
      for (const [i, code] of [[0, 'CRM_DUPLICADO'], [2, 'CPF_DUPLICADO'], [4, 'EMAIL_DUPLICADO']] as const) {
        const pair = [results[i]!, results[i + 1]!];
        expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = pair.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(lost.reason).toBeInstanceOf(AppError);
        expect(lost.reason).toMatchObject({ code, status: 409 });
      }
    }
    expect((await a!.storage.counts()).medicos).toBe(5);
  }, 60_000);

  it('when two processes start on an empty database, then one first admin is made and only one of them prints a password', async () => {
    const [a, b] = await processes(2);
    const answers = await Promise.all([a!.usuarios.ensureFirstAdmin('chefe@clinica.local', undefined), b!.usuarios.ensureFirstAdmin('chefe@clinica.local', undefined)]);
    expect(answers.filter((x) => x !== undefined)).toHaveLength(1);
    expect(await a!.storage.usuarios.count()).toBe(1);
  }, 60_000);

  it('when a user signs in on one process, then another authenticates the token, and logout or a password change there ends it everywhere', async () => {
    const [a, b] = await processes(2);
    await a!.usuarios.ensureFirstAdmin('chefe@clinica.local', 'senha-inicial-123');
    const rita = await a!.usuarios.create({ nome: 'Rita', email: 'rita@clinica.local', papel: 'recepcao', ativo: true, senha: 'uma-senha-bem-longa' });
    const first = await a!.auth.login('rita@clinica.local', 'uma-senha-bem-longa');
    const second = await a!.auth.login('rita@clinica.local', 'uma-senha-bem-longa');
    const onB = await b!.auth.authenticate(first.token);
    expect(onB?.usuario.id).toBe(rita.id);

    // A use a minute later renews the session, durably: the other process sees the new last use.
    b!.clock.advance(2 * 60_000);
    const renewed = await b!.auth.authenticate(first.token);
    await renewed?.renewal;
    expect((await a!.storage.sessoes.get(onB!.actor.sessionId))?.usadaEm).toBe(NOW.getTime() + 2 * 60_000);

    await b!.auth.changePassword(onB!.actor, 'uma-senha-bem-longa', 'outra-senha-bem-longa');
    expect(await a!.auth.authenticate(second.token)).toBeUndefined();
    expect(await a!.auth.authenticate(first.token)).toBeDefined();
    await a!.auth.logout(onB!.actor);
    expect(await b!.auth.authenticate(first.token)).toBeUndefined();

    // Sessions idle past their lifetime are purged; the last admin cannot be demoted.
    const third = await a!.auth.login('rita@clinica.local', 'outra-senha-bem-longa');
    a!.clock.advance(61 * 60_000);
    expect(await a!.auth.purgeExpired()).toBe(1);
    expect(await a!.auth.authenticate(third.token)).toBeUndefined();
    const admin = (await a!.usuarios.list({ limit: 10, offset: 0 })).items.find((u) => u.papel === 'admin')!;
    await expect(a!.usuarios.remove(admin.id)).rejects.toMatchObject({ code: 'ULTIMO_ADMIN' });
  }, 60_000);
});
