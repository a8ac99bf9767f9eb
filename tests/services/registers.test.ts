import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createContainer } from '../../src/composition.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { AppError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/infra/storage/json/memory-store.js';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import type { MedicoInput } from '../../src/schemas/medico.schema.js';

async function services(now = '2026-03-01T12:00:00Z') {
  const clock = new ManualClock(new Date(now));
  const c = await createContainer(loadConfig({ SEED: 'false' }), {
    store: new MemoryStore(ALL_COLLECTIONS),
    logger: pino({ level: 'silent' }),
    clock,
  });
  return { ...c.services, clock };
}

const medico: MedicoInput = {
  nome: 'Ana', crm: '1234/SP', especialidade: 'Clínica', email: null, telefone: null, duracaoConsultaMin: 30, maxEncaixesDia: 2, horarios: [], ativo: true,
};

describe('MedicoService', () => {
  it('when a médico is replaced later, then atualizadoEm follows the clock and criadoEm stays', async () => {
    const { medicos, clock } = await services();
    const created = await medicos.create(medico);
    clock.advance(60 * 60 * 1000);
    const updated = await medicos.replace(created.id, { ...medico, nome: 'Ana B.' });
    expect(created.criadoEm).toBe('2026-03-01T09:00:00-03:00');
    expect(updated).toMatchObject({ criadoEm: created.criadoEm, atualizadoEm: '2026-03-01T10:00:00-03:00', nome: 'Ana B.' });
  });

  it('when the CRM is taken, then CRM_DUPLICADO', async () => {
    const { medicos } = await services();
    await medicos.create(medico);
    await expect(medicos.create({ ...medico, nome: 'Outra' })).rejects.toMatchObject({ code: 'CRM_DUPLICADO', status: 409 });
  });
});

describe('PacienteService', () => {
  const paciente = { nome: 'João', cpf: '52998224725', dataNascimento: '2026-03-01', email: null, telefone: null };

  it('when born on the clinic\'s today, then accepted; tomorrow, then refused', async () => {
    // 02:00Z on 1 March is still 28 February in São Paulo.
    const early = await services('2026-03-01T02:00:00Z');
    await expect(early.pacientes.create(paciente)).rejects.toBeInstanceOf(AppError);
    const later = await services('2026-03-01T12:00:00Z');
    await expect(later.pacientes.create(paciente)).resolves.toMatchObject({ dataNascimento: '2026-03-01' });
  });
});
