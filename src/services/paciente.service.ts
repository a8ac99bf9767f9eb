import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant, todayIn } from '../core/time.js';
import type { Store } from '../infra/storage/store.js';
import type { ConsultaRepository } from '../repositories/consulta.repository.js';
import type { Page } from '../repositories/index.js';
import type { PacienteFilter, PacienteRepository } from '../repositories/paciente.repository.js';
import type { Paciente, PacienteInput } from '../schemas/paciente.schema.js';

export interface PacienteServiceDeps {
  store: Store;
  pacientes: PacienteRepository;
  consultas: ConsultaRepository;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/** The rules about pacientes: CPF uniqueness, a birth date that has happened, and the delete guard. */
export class PacienteService {
  constructor(private readonly deps: PacienteServiceDeps) {}

  list(filter: PacienteFilter): Page<Paciente> {
    return this.deps.pacientes.list(filter);
  }

  get(id: string): Paciente {
    const paciente = this.deps.pacientes.get(id);
    if (!paciente) throw notFound('Paciente');
    return paciente;
  }

  async create(input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { store, pacientes, logger } = this.deps;
    const paciente = await store.transact((tx) => {
      this.assertCpfFree(input.cpf);
      const now = this.now();
      const created: Paciente = { id: randomUUID(), ...editable(input), criadoEm: now, atualizadoEm: now };
      pacientes.save(tx, created);
      return created;
    });
    logger.info({ pacienteId: paciente.id }, 'paciente cadastrado');
    return paciente;
  }

  async replace(id: string, input: PacienteInput): Promise<Paciente> {
    this.assertBorn(input.dataNascimento);
    const { store, pacientes, logger } = this.deps;
    const paciente = await store.transact((tx) => {
      const current = this.get(id);
      this.assertCpfFree(input.cpf, id);
      const updated: Paciente = { ...current, ...editable(input), atualizadoEm: this.now() };
      pacientes.save(tx, updated);
      return updated;
    });
    logger.info({ pacienteId: id }, 'paciente atualizado');
    return paciente;
  }

  async remove(id: string): Promise<void> {
    const { store, pacientes, consultas, clock, logger } = this.deps;
    await store.transact((tx) => {
      this.get(id);
      if (consultas.pacienteHasFutureAgendada(id, clock.now())) {
        throw new AppError('EXCLUSAO_BLOQUEADA', 'O paciente tem consultas agendadas no futuro; cancele-as antes de excluir.');
      }
      pacientes.remove(tx, id);
    });
    logger.info({ pacienteId: id }, 'paciente excluído');
  }

  private assertBorn(dataNascimento: string): void {
    if (dataNascimento > todayIn(this.deps.timezone, this.deps.clock.now())) {
      throw new AppError('VALIDACAO', 'A requisição tem 1 erro de validação.', [
        { path: 'dataNascimento', message: 'Data de nascimento no futuro.' },
      ]);
    }
  }

  private assertCpfFree(cpf: string, exceptId?: string): void {
    const holder = this.deps.pacientes.findByCpf(cpf);
    if (holder && holder.id !== exceptId) {
      throw new AppError('CPF_DUPLICADO', 'Já existe um paciente com este CPF.', [{ path: 'cpf', message: 'CPF já cadastrado.' }]);
    }
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function editable(input: PacienteInput): Omit<Paciente, 'id' | 'criadoEm' | 'atualizadoEm'> {
  return {
    nome: input.nome,
    cpf: input.cpf,
    dataNascimento: input.dataNascimento,
    email: input.email ?? null,
    telefone: input.telefone ?? null,
  };
}
