/**
 * The examples of the OpenAPI document, in one place so they tell one story: Dra. Marina Carvalho (cardiologista)
 * sees João Pereira da Silva on Monday 2027-11-22 at 09:00, moved to 10:00, then cancelled. Swagger UI pre-fills
 * "Try it out" with these, so each must be accepted as it is: a valid CPF, a birth date in the past, a booking in
 * the future on one of the médico's slots, names and CRMs that the demo data (`SEED=true`) does not use.
 * `tests/http/openapi-examples.test.ts` sends every request example to a fresh app and checks every response
 * example against its schema.
 *
 * The booking is a fixed date: it stays bookable until it passes, and only from 365 days before it
 * (AGENDA_HORIZONTE_DIAS). When it nears, move {@link EXEMPLO_DIA} (and the dates that follow it) a year on.
 */

/** Ids the examples refer to (UUIDs, as the server makes them). */
export const EXEMPLO_IDS = {
  medico: '0b7e5f3c-2a4d-4c8e-9f61-3d2a7b9c4e15',
  paciente: '6c1d9e2f-8b3a-4f70-a5d4-1e9b2c7f3a60',
  consulta: 'a3f8c2d1-5e6b-4a9c-8d7e-2f1b0c9a8e47',
  usuario: 'e5b2a9c7-1d3f-4e8a-b6c0-9f4d2a1e7b38',
  task: '9d4e7a1b-6c2f-4b85-a3e9-0c8d5f2b1a76',
  bloqueio: '2f9a6d3e-7b1c-4e05-8a4f-6d3c9b2e1f80',
  feriado: '7a3c1e9f-4d2b-4a6e-b8f1-5c0d3e7a9b24',
  listaEspera: 'c8e1b4d7-3a9f-4c2e-9b6d-7f0a2e5c1d93',
  auditoria: '4b6d8f0a-2c4e-4a6c-8e0a-1c3e5a7c9e02',
  admin: 'f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a09',
} as const;

/** A Monday the example médico works, in the clinic's zone (America/Sao_Paulo, -03:00). */
export const EXEMPLO_DIA = '2027-11-22';
const at = (hhmm: string, dia = EXEMPLO_DIA) => `${dia}T${hhmm}:00-03:00`;
/** When the example records were written (before the booking). */
const CRIADO_EM = '2027-11-08T14:32:10-03:00';

export const EXEMPLO_INSTANTE = at('09:00');

export const EXEMPLO_MEDICO_INPUT = {
  nome: 'Marina Carvalho Lopes',
  crm: '204060/SP',
  especialidade: 'Cardiologia',
  email: 'marina.carvalho@clinica.com.br',
  telefone: '+55 11 98765-4321',
  duracaoConsultaMin: 30,
  maxEncaixesDia: 2,
  horarios: [
    { diaSemana: 1, inicio: '08:00', fim: '12:00' },
    { diaSemana: 1, inicio: '14:00', fim: '18:00' },
    { diaSemana: 3, inicio: '08:00', fim: '12:00' },
  ],
  ativo: true,
};

export const EXEMPLO_MEDICO = { id: EXEMPLO_IDS.medico, ...EXEMPLO_MEDICO_INPUT, criadoEm: CRIADO_EM, atualizadoEm: CRIADO_EM };

export const EXEMPLO_PACIENTE_INPUT = {
  nome: 'João Pereira da Silva',
  cpf: '384.615.397-45',
  dataNascimento: '1984-03-17',
  email: 'joao.pereira@email.com.br',
  telefone: '+55 11 97654-3210',
};

export const EXEMPLO_PACIENTE = {
  id: EXEMPLO_IDS.paciente,
  ...EXEMPLO_PACIENTE_INPUT,
  cpf: EXEMPLO_PACIENTE_INPUT.cpf.replace(/\D/g, ''),
  criadoEm: CRIADO_EM,
  atualizadoEm: CRIADO_EM,
};

export const EXEMPLO_AGENDAR = {
  medicoId: EXEMPLO_IDS.medico,
  pacienteId: EXEMPLO_IDS.paciente,
  inicio: at('09:00'),
  observacoes: 'Primeira consulta; trazer exames recentes.',
};

export const EXEMPLO_REMARCAR = { inicio: at('10:00') };
export const EXEMPLO_CANCELAR = { motivo: 'O paciente pediu para desmarcar.' };
export const EXEMPLO_ATUALIZAR_STATUS = { status: 'confirmada', observacoes: 'Confirmada por telefone.' };

export const EXEMPLO_CONSULTA = {
  id: EXEMPLO_IDS.consulta,
  medicoId: EXEMPLO_IDS.medico,
  pacienteId: EXEMPLO_IDS.paciente,
  inicio: at('09:00'),
  fim: at('09:30'),
  status: 'agendada',
  observacoes: EXEMPLO_AGENDAR.observacoes,
  motivoCancelamento: null,
  chegouEm: null,
  encaixe: false,
  criadaEm: CRIADO_EM,
  atualizadaEm: CRIADO_EM,
};

export const EXEMPLO_TASK = {
  id: EXEMPLO_IDS.task,
  tipo: 'agendar_consulta',
  status: 'concluida',
  progresso: 100,
  criadaEm: '2027-11-08T14:35:02-03:00',
  iniciadaEm: '2027-11-08T14:35:02-03:00',
  concluidaEm: '2027-11-08T14:35:02-03:00',
  resultado: { consultaId: EXEMPLO_IDS.consulta },
};

/** A bloqueio on the Wednesday of the same week (the médico works 08:00–12:00 then; nothing is booked). */
export const EXEMPLO_BLOQUEIO_INPUT = { inicio: at('08:00', '2027-11-24'), fim: at('12:00', '2027-11-24'), motivo: 'Congresso de cardiologia' };
export const EXEMPLO_BLOQUEIO = { id: EXEMPLO_IDS.bloqueio, medicoId: EXEMPLO_IDS.medico, ...EXEMPLO_BLOQUEIO_INPUT, criadoEm: CRIADO_EM };

export const EXEMPLO_FERIADO_INPUT = { data: '2027-11-26', nome: 'Aniversário da cidade' };
export const EXEMPLO_FERIADO_CLINICA = { id: EXEMPLO_IDS.feriado, ...EXEMPLO_FERIADO_INPUT, criadoEm: CRIADO_EM };
/** A holiday as listed: the clinic's own, and a national one (computed: no id). */
export const EXEMPLO_FERIADO = { id: EXEMPLO_IDS.feriado, ...EXEMPLO_FERIADO_INPUT, tipo: 'clinica', pontoFacultativo: false };
export const EXEMPLO_FERIADO_NACIONAL = { id: null, data: '2027-11-15', nome: 'Proclamação da República', tipo: 'nacional', pontoFacultativo: false };

export const EXEMPLO_LISTA_ESPERA_INPUT = {
  pacienteId: EXEMPLO_IDS.paciente,
  medicoId: EXEMPLO_IDS.medico,
  de: '2027-11-22',
  ate: '2027-11-26',
  observacoes: 'Prefere horários pela manhã.',
};
export const EXEMPLO_LISTA_ESPERA = {
  id: EXEMPLO_IDS.listaEspera,
  ...EXEMPLO_LISTA_ESPERA_INPUT,
  especialidade: null,
  criadaEm: CRIADO_EM,
  ativa: true,
};

export const EXEMPLO_SLOT = { inicio: at('09:00'), fim: at('09:30'), estado: 'ocupado', consultaId: EXEMPLO_IDS.consulta };
export const EXEMPLO_ENCAIXE = { inicio: at('11:45'), fim: at('12:00'), consultaId: 'd2c4e6a8-0b1d-4f3a-9c5e-7a9b1d3f5e61' };
export const EXEMPLO_AGENDA = {
  medicoId: EXEMPLO_IDS.medico,
  timezone: 'America/Sao_Paulo',
  slots: [
    { inicio: at('08:00'), fim: at('08:30'), estado: 'disponivel', consultaId: null },
    { inicio: at('08:30'), fim: at('09:00'), estado: 'bloqueado', consultaId: null, motivo: 'Reunião clínica' },
    EXEMPLO_SLOT,
  ],
  encaixes: [EXEMPLO_ENCAIXE],
};
export const EXEMPLO_HORARIO_LIVRE = { medicoId: EXEMPLO_IDS.medico, inicio: at('08:00'), fim: at('08:30') };

export const EXEMPLO_SENHA_ADMIN = 'uma-senha-longa';
/** Sign in as the first admin, with the password given in ADMIN_SENHA (README: `ADMIN_SENHA='uma-senha-longa' npm start`). */
export const EXEMPLO_LOGIN = { email: 'admin@clinica.local', senha: EXEMPLO_SENHA_ADMIN };
export const EXEMPLO_TROCAR_SENHA = { senhaAtual: EXEMPLO_SENHA_ADMIN, novaSenha: 'outra-senha-bem-longa' };
export const EXEMPLO_USUARIO_INPUT = { nome: 'Rita de Cássia Moura', email: 'rita.moura@clinica.com.br', papel: 'recepcao', senha: 'senha-da-rita-2027', ativo: true };
export const EXEMPLO_USUARIO_UPDATE = { nome: 'Rita de Cássia Moura', email: 'rita.moura@clinica.com.br', papel: 'recepcao', ativo: true };
export const EXEMPLO_USUARIO = {
  id: EXEMPLO_IDS.usuario,
  ...EXEMPLO_USUARIO_UPDATE,
  medicoId: null,
  criadoEm: CRIADO_EM,
  atualizadoEm: CRIADO_EM,
};
export const EXEMPLO_SESSAO_USUARIO = { id: EXEMPLO_IDS.admin, nome: 'Administrador', email: 'admin@clinica.local', papel: 'admin' };
const EXPIRA_EM = '2027-11-09T02:32:10-03:00';
export const EXEMPLO_LOGIN_RESULT = { token: 'r3Vx0aQe9Zb7N1kPz4Ty8Lm2Hc6Fd5Js0Wg3Xu7Ei1o', expiraEm: EXPIRA_EM, usuario: EXEMPLO_SESSAO_USUARIO };
export const EXEMPLO_SESSAO = { expiraEm: EXPIRA_EM, usuario: EXEMPLO_SESSAO_USUARIO };

export const EXEMPLO_PROBLEM = {
  type: '/problemas/validacao',
  title: 'Requisição inválida',
  status: 400,
  detail: 'O corpo ou os parâmetros não seguem o esquema.',
  instance: '/pacientes',
  errors: [{ path: 'cpf', message: 'CPF inválido.' }],
};

export const EXEMPLO_AUDITORIA = {
  id: EXEMPLO_IDS.auditoria,
  em: CRIADO_EM,
  usuarioId: EXEMPLO_IDS.usuario,
  papel: 'recepcao',
  acao: 'paciente.ler',
  recurso: 'paciente',
  recursoId: EXEMPLO_IDS.paciente,
  pacienteIds: [EXEMPLO_IDS.paciente],
  status: 200,
  ip: '192.168.0.23',
  requestId: '3b8e2c4a-9d1f-4e6b-a7c5-0f2d4b6e8a13',
};
export const EXEMPLO_VERIFICACAO = { integra: true, entradas: 1842 };
export const EXEMPLO_PACIENTE_DADOS = {
  geradoEm: '2027-11-10T09:15:00-03:00',
  paciente: EXEMPLO_PACIENTE,
  consultas: [EXEMPLO_CONSULTA],
  listaEspera: [EXEMPLO_LISTA_ESPERA],
  auditoria: [EXEMPLO_AUDITORIA],
};

export const EXEMPLO_RELATORIO_INPUT = { de: '2027-11-01', ate: '2027-11-30', medicoId: EXEMPLO_IDS.medico };
export const EXEMPLO_BACKUP = { nome: 'backup-20271108-020000-auto.zip', tamanhoBytes: 184_320, criadoEm: '2027-11-08T02:00:00-03:00', automatico: true, criptografado: false };
export const EXEMPLO_RELATORIO = { nome: 'relatorio-20271130-180512.pdf', tamanhoBytes: 96_512, criadoEm: '2027-11-30T18:05:12-03:00' };
export const EXEMPLO_RESTAURACAO = {
  restaurado: EXEMPLO_BACKUP.nome,
  backupDeSeguranca: 'backup-20271108-153000.zip',
  contagens: { medicos: 4, pacientes: 212, consultas: 1530 },
};
export const EXEMPLO_LOG = { hora: '2027-11-08T14:35:02-03:00', nivel: 'info', msg: 'consulta agendada', consultaId: EXEMPLO_IDS.consulta };
export const EXEMPLO_STATUS = {
  status: 'ok',
  uptimeSegundos: 86_400.5,
  plataforma: { platform: 'linux', arch: 'x64', node: 'v20.19.0', pid: 4242 },
  memoria: { rssBytes: 157_286_400, heapUsadoBytes: 52_428_800, heapTotalBytes: 73_400_320, externoBytes: 4_194_304 },
  fila: { pendentes: 0, porStatus: { concluida: 128, falhou: 1 } },
  cache: { registros: { medicos: 4, pacientes: 212, consultas: 1530 }, horariosReservados: 0 },
  sse: { agendaClientes: 3, logsClientes: 1, clientesDescartados: 0 },
  diretorios: { dados: '/srv/agenda/data', backups: '/srv/agenda/backups', relatorios: '/srv/agenda/reports' },
  backups: { criptografados: true, manter: 20, intervaloMin: 60 },
};
