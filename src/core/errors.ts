/**
 * The catalogue of errors the API can answer with. Services throw {@link AppError}s by code; the error
 * middleware maps them to RFC 9457 problem documents once. `type` is stable: clients may switch on it.
 */

export interface FieldError {
  path: string;
  message: string;
}

interface ProblemKind {
  status: number;
  type: string;
  title: string;
}

export const PROBLEMS = {
  VALIDACAO: { status: 400, type: '/problemas/validacao', title: 'Requisição inválida' },
  JSON_INVALIDO: { status: 400, type: '/problemas/json-invalido', title: 'JSON malformado' },
  NAO_ENCONTRADO: { status: 404, type: '/problemas/nao-encontrado', title: 'Recurso não encontrado' },
  ROTA_INEXISTENTE: { status: 404, type: '/problemas/rota-inexistente', title: 'Rota inexistente' },
  CRM_DUPLICADO: { status: 409, type: '/problemas/crm-duplicado', title: 'CRM já cadastrado' },
  CPF_DUPLICADO: { status: 409, type: '/problemas/cpf-duplicado', title: 'CPF já cadastrado' },
  HORARIO_OCUPADO: { status: 409, type: '/problemas/horario-ocupado', title: 'Horário indisponível' },
  CONFLITO_PACIENTE: { status: 409, type: '/problemas/conflito-paciente', title: 'Paciente já tem consulta nesse horário' },
  STATUS_INVALIDO: { status: 409, type: '/problemas/status-invalido', title: 'Operação incompatível com o status da consulta' },
  REGRA_AGENDAMENTO: { status: 422, type: '/problemas/regra-de-agendamento', title: 'Regra de agendamento violada' },
  REFERENCIA_INVALIDA: { status: 422, type: '/problemas/referencia-invalida', title: 'Médico ou paciente inexistente' },
  IDEMPOTENCIA_CONFLITO: { status: 422, type: '/problemas/idempotencia-conflito', title: 'Idempotency-Key reutilizada com outro corpo' },
  BACKUP_INVALIDO: { status: 422, type: '/problemas/backup-invalido', title: 'Backup inválido' },
  FILA_CHEIA: { status: 503, type: '/problemas/fila-cheia', title: 'Fila de tarefas cheia' },
  EXCLUSAO_BLOQUEADA: {
    status: 409,
    type: '/problemas/exclusao-bloqueada',
    title: 'Exclusão bloqueada por consultas futuras',
  },
  CORPO_GRANDE_DEMAIS: { status: 413, type: '/problemas/corpo-grande-demais', title: 'Corpo da requisição grande demais' },
  TIPO_NAO_SUPORTADO: {
    status: 415,
    type: '/problemas/tipo-de-conteudo-nao-suportado',
    title: 'Tipo de conteúdo não suportado',
  },
  ARMAZENAMENTO_INDISPONIVEL: {
    status: 503,
    type: '/problemas/armazenamento-indisponivel',
    title: 'Armazenamento indisponível',
  },
  ERRO_INTERNO: { status: 500, type: '/problemas/erro-interno', title: 'Erro interno' },
} as const satisfies Record<string, ProblemKind>;

export type ProblemCode = keyof typeof PROBLEMS;

/** An error the API knows how to answer. `detail` is pt-BR and safe to show to the client. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  readonly type: string;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    const kind: ProblemKind = PROBLEMS[code];
    this.status = kind.status;
    this.type = kind.type;
    this.title = kind.title;
  }
}

export const notFound = (what: string): AppError => new AppError('NAO_ENCONTRADO', `${what} não encontrado(a).`);

/** Storage could not be used (lock not obtained in time, disk full, I/O error): the request may be retried. */
export class StorageUnavailableError extends AppError {
  constructor(detail: string, cause?: unknown) {
    super('ARMAZENAMENTO_INDISPONIVEL', detail, undefined, { cause });
  }
}
