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
  METODO_NAO_PERMITIDO: { status: 405, type: '/problemas/metodo-nao-permitido', title: 'Método não permitido' },
  CRM_DUPLICADO: { status: 409, type: '/problemas/crm-duplicado', title: 'CRM já cadastrado' },
  CPF_DUPLICADO: { status: 409, type: '/problemas/cpf-duplicado', title: 'CPF já cadastrado' },
  HORARIO_OCUPADO: { status: 409, type: '/problemas/horario-ocupado', title: 'Horário indisponível' },
  CONFLITO_PACIENTE: { status: 409, type: '/problemas/conflito-paciente', title: 'Paciente já tem consulta nesse horário' },
  CONSULTAS_AFETADAS: { status: 409, type: '/problemas/consultas-afetadas', title: 'Consultas agendadas seriam afetadas' },
  STATUS_INVALIDO: { status: 409, type: '/problemas/status-invalido', title: 'Operação incompatível com o status da consulta' },
  REGRA_AGENDAMENTO: { status: 422, type: '/problemas/regra-de-agendamento', title: 'Regra de agendamento violada' },
  REFERENCIA_INVALIDA: { status: 422, type: '/problemas/referencia-invalida', title: 'Médico ou paciente inexistente' },
  IDEMPOTENCIA_CONFLITO: { status: 422, type: '/problemas/idempotencia-conflito', title: 'Idempotency-Key reutilizada com outro corpo' },
  BACKUP_INVALIDO: { status: 422, type: '/problemas/backup-invalido', title: 'Backup inválido' },
  RESTAURACAO_EM_ANDAMENTO: { status: 409, type: '/problemas/restauracao-em-andamento', title: 'Restauração em andamento' },
  FILA_CHEIA: { status: 503, type: '/problemas/fila-cheia', title: 'Fila de tarefas cheia' },
  // A task record only (never an HTTP answer): its process ended before finishing it (see infra/task-board.ts).
  PROCESSO_ENCERRADO: { status: 503, type: '/problemas/processo-encerrado', title: 'Processo encerrado' },
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
  NAO_AUTENTICADO: { status: 401, type: '/problemas/nao-autenticado', title: 'Autenticação necessária' },
  CREDENCIAIS_INVALIDAS: { status: 401, type: '/problemas/credenciais-invalidas', title: 'E-mail ou senha incorretos' },
  ACESSO_NEGADO: { status: 403, type: '/problemas/acesso-negado', title: 'Acesso negado' },
  ORIGEM_NAO_PERMITIDA: { status: 403, type: '/problemas/origem-nao-permitida', title: 'Origem da requisição não permitida' },
  MUITAS_TENTATIVAS: { status: 429, type: '/problemas/muitas-tentativas', title: 'Muitas tentativas de entrar' },
  MUITAS_ESCRITAS: { status: 429, type: '/problemas/muitas-requisicoes', title: 'Muitas requisições de escrita' },
  EMAIL_DUPLICADO: { status: 409, type: '/problemas/email-duplicado', title: 'E-mail já cadastrado' },
  ULTIMO_ADMIN: { status: 409, type: '/problemas/ultimo-admin', title: 'O último administrador ativo não pode ser removido' },
  PACIENTE_ANONIMIZADO: { status: 409, type: '/problemas/paciente-anonimizado', title: 'Paciente anonimizado' },
  LIMITE_DE_CONEXOES: { status: 503, type: '/problemas/limite-de-conexoes', title: 'Limite de conexões atingido' },
  MUITAS_CONEXOES: { status: 429, type: '/problemas/muitas-conexoes', title: 'Conexões demais abertas por esta sessão' },
  ERRO_INTERNO: { status: 500, type: '/problemas/erro-interno', title: 'Erro interno' },
  // Answered outside Express: by the HTTP server to a request its parser refused or that came too slowly, and
  // by the web app's page when the app was not built. Catalogued here so the one builder makes their bodies too.
  REQUISICAO_MALFORMADA: { status: 400, type: '/problemas/requisicao-malformada', title: 'Requisição HTTP malformada' },
  TEMPO_ESGOTADO: { status: 408, type: '/problemas/tempo-esgotado', title: 'Tempo esgotado' },
  CABECALHO_GRANDE_DEMAIS: { status: 431, type: '/problemas/cabecalho-grande-demais', title: 'Cabeçalhos grandes demais' },
  APP_WEB_AUSENTE: { status: 503, type: '/problemas/app-web-ausente', title: 'Aplicativo web não compilado' },
} as const satisfies Record<string, ProblemKind>;

export type ProblemCode = keyof typeof PROBLEMS;

/** An error the API knows how to answer. `detail` is pt-BR and safe to show to the client. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  readonly type: string;
  readonly title: string;
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Record<string, string> | undefined;
  /** Extra members of the problem document, such as `consultas` (RFC 9457 extension members). */
  readonly extras: Record<string, unknown> | undefined;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    options?: { cause?: unknown; headers?: Record<string, string>; extras?: Record<string, unknown> },
  ) {
    super(detail, options);
    this.headers = options?.headers;
    this.extras = options?.extras;
    const kind: ProblemKind = PROBLEMS[code];
    this.status = kind.status;
    this.type = kind.type;
    this.title = kind.title;
  }
}

/** 404 for `what`, a noun whose grammatical gender `genero` gives the participle ("Consulta não encontrada"). */
export const notFound = (what: string, genero: 'o' | 'a' = 'o'): AppError => new AppError('NAO_ENCONTRADO', `${what} não encontrad${genero}.`);

/** A restore asked while another runs (in this process, or with PostgreSQL in any): it would only overwrite that one. */
export const restoreInProgress = (): AppError => new AppError('RESTAURACAO_EM_ANDAMENTO', 'Já há uma restauração em andamento; aguarde o fim dela.');

/**
 * Storage refused to open for a reason an operator must fix, not a bug: its message says which, for the start-up
 * line (PostgreSQL: a wrong password, a database that does not exist, a migration the database refused).
 */
export class StorageOpenError extends Error {
  override readonly name = 'StorageOpenError';
}

/** Storage could not be used (lock not obtained in time, disk full, I/O error): the request may be retried. */
export class StorageUnavailableError extends AppError {
  constructor(detail: string, cause?: unknown) {
    super('ARMAZENAMENTO_INDISPONIVEL', detail, undefined, { cause });
  }
}

/** {@link StorageUnavailableError} at opening: the database's address did not answer (its message says how). */
export class DatabaseUnreachableError extends StorageUnavailableError {}
