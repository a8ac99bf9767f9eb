import { AppError } from '../core/errors.js';
import { CONSOLE_ONLY, type Logger } from '../core/logger.js';
import type { MedicoInput } from '../schemas/medico.schema.js';
import type { PacienteInput } from '../schemas/paciente.schema.js';
import type { MedicoService } from './medico.service.js';
import type { PacienteService } from './paciente.service.js';
import { generatePassword } from '../infra/password.js';
import { COLLECTIONS } from '../repositories/collections.js';
import type { StoragePort } from '../repositories/port.js';
import type { UsuarioService } from './usuario.service.js';

const weekdays = (inicio: string, fim: string, days = [1, 2, 3, 4, 5]) => days.map((diaSemana) => ({ diaSemana, inicio, fim }));

const MEDICOS: MedicoInput[] = [
  {
    nome: 'Ana Souza', crm: '123456/SP', especialidade: 'Cardiologia', email: 'ana.souza@clinica.com.br',
    telefone: '+55 11 91234-5678', duracaoConsultaMin: 30, ativo: true, maxEncaixesDia: 2,
    horarios: [...weekdays('08:00', '12:00'), ...weekdays('14:00', '18:00', [1, 3])],
  },
  {
    nome: 'Bruno Araújo', crm: '54321/RJ', especialidade: 'Pediatria', email: 'bruno.araujo@clinica.com.br',
    telefone: '+55 21 98765-4321', duracaoConsultaMin: 20, ativo: true, maxEncaixesDia: 2,
    horarios: weekdays('13:00', '19:00'),
  },
  {
    nome: 'Cláudia Mendonça', crm: '778899/MG', especialidade: 'Dermatologia', email: null, telefone: null,
    duracaoConsultaMin: 45, ativo: true, maxEncaixesDia: 2,
    horarios: [...weekdays('09:00', '12:00', [2, 4]), { diaSemana: 6, inicio: '08:00', fim: '12:00' }],
  },
  {
    nome: 'Diego Ferreira', crm: '2468/RS', especialidade: 'Ortopedia', email: 'diego@clinica.com.br', telefone: null,
    duracaoConsultaMin: 30, ativo: true, maxEncaixesDia: 2,
    horarios: weekdays('07:30', '11:30', [1, 2, 3, 4, 5]),
  },
];

const PACIENTES: PacienteInput[] = [
  { nome: 'João Lima', cpf: '52998224725', dataNascimento: '1990-05-12', email: 'joao@example.com', telefone: '+55 21 99876-5432' },
  { nome: 'Maria da Conceição', cpf: '11144477735', dataNascimento: '1958-11-03', email: null, telefone: '+55 11 3456-7890' },
  { nome: 'Lúcia Gonçalves', cpf: '39053344705', dataNascimento: '2012-02-29', email: 'lucia.g@example.com', telefone: null },
  { nome: 'Pedro Álvares', cpf: '15350946056', dataNascimento: '1985-07-21', email: null, telefone: null },
  { nome: 'Helena Kowalski', cpf: '86288366757', dataNascimento: '2001-12-30', email: 'helena@example.com', telefone: '+55 41 99123-4567' },
];

/** With SEED=true and empty storage, registers a few demo médicos and pacientes through the services. */
export async function seedDemoData(deps: {
  storage: Pick<StoragePort, 'counts'>;
  medicos: MedicoService;
  pacientes: PacienteService;
  usuarios: UsuarioService;
  logger: Logger;
}): Promise<boolean> {
  // Counted now, as committed by every process (another may have seeded a moment ago).
  const counts = await deps.storage.counts();
  const clinicData = [COLLECTIONS.medicos, COLLECTIONS.pacientes, COLLECTIONS.consultas];
  if (clinicData.some((c) => (counts[c] ?? 0) > 0)) return false;
  // Another process seeding the same storage at the same moment makes some of these conflicts: skip them.
  // `created` says whether this process made the record (false: the other one did).
  const created = (done: Promise<unknown>): Promise<boolean> =>
    done.then(
      () => true,
      (error: unknown) => {
        if (!(error instanceof AppError && error.status === 409)) throw error;
        return false;
      },
    );
  for (const medico of MEDICOS) await created(deps.medicos.create(medico));
  for (const paciente of PACIENTES) await created(deps.pacientes.create(paciente));
  // One user per role besides the admin, so a newcomer can try each screen at once.
  const senha = generatePassword();
  const ana = (await deps.medicos.list({ q: 'Ana Souza', limit: 1, offset: 0 })).items[0];
  const users: string[] = [];
  if (await created(deps.usuarios.create({ nome: 'Recepção (demonstração)', email: 'recepcao@clinica.local', papel: 'recepcao', ativo: true, senha }))) {
    users.push('recepcao@clinica.local');
  }
  if (ana && (await created(deps.usuarios.create({ nome: 'Dra. Ana Souza', email: 'ana.souza@clinica.local', papel: 'medico', medicoId: ana.id, ativo: true, senha })))) {
    users.push('ana.souza@clinica.local (médica)');
  }
  deps.logger.info({ medicos: MEDICOS.length, pacientes: PACIENTES.length }, 'dados de demonstração criados');
  // Only the password of the users this process made: another process starting at the same moment prints its own.
  if (users.length > 0) {
    deps.logger.warn(CONSOLE_ONLY, `usuários de demonstração: ${users.join(' e ')}, senha ${senha} (mostrada só agora)`);
  } else {
    deps.logger.info('usuários de demonstração criados por outro processo, que mostrou a senha deles');
  }
  return true;
}
