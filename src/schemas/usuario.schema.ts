import { PAPEIS } from '../core/context.js';
import { EMAIL_MAX, EpochMs, Instant, Nome, Pagination, listOf, texto, z } from './common.js';
import {
  EXEMPLO_LOGIN,
  EXEMPLO_LOGIN_RESULT,
  EXEMPLO_SESSAO,
  EXEMPLO_SESSAO_USUARIO,
  EXEMPLO_TROCAR_SENHA,
  EXEMPLO_USUARIO,
  EXEMPLO_USUARIO_INPUT,
  EXEMPLO_USUARIO_UPDATE,
} from './examples.js';

/** Shortest password accepted (contract: ≥ 10 characters). */
export const SENHA_MIN = 10;
/** Longest password accepted: scrypt's cost does not depend on it, but a bound keeps bodies sane. */
export const SENHA_MAX = 200;

export const Senha = z
  .string()
  .min(SENHA_MIN, `A senha precisa de ao menos ${SENHA_MIN} caracteres.`)
  .max(SENHA_MAX, `A senha pode ter no máximo ${SENHA_MAX} caracteres.`)
  .meta({ format: 'password', example: 'troque-esta-senha' });

/** E-mails of users are compared case-insensitively: kept in lower case. */
export const EmailUsuario = z
  .email('E-mail inválido.')
  .max(254)
  .transform((e) => e.toLowerCase())
  .meta({ example: 'recepcao@clinica.local' });

export const Papel = z.enum(PAPEIS).meta({ description: '`admin`, `recepcao` ou `medico`' });

const usuarioFields = {
  nome: Nome,
  email: EmailUsuario,
  papel: Papel,
  medicoId: z.uuid('Id de médico inválido.').nullish().meta({ description: 'Obrigatório para o papel `medico`' }),
  ativo: z.boolean().default(true),
};

const medicoIdRequired = (u: { papel: string; medicoId?: string | null | undefined }) => u.papel !== 'medico' || !!u.medicoId;
const medicoIdIssue = { message: 'Usuários de papel médico precisam de medicoId.', path: ['medicoId'] };

export const UsuarioInput = z
  .object({ ...usuarioFields, senha: Senha })
  .refine(medicoIdRequired, medicoIdIssue)
  .meta({ id: 'UsuarioInput', example: EXEMPLO_USUARIO_INPUT });
export type UsuarioInput = z.output<typeof UsuarioInput>;

/** `PUT /usuarios/{id}`: the password is optional (left out, it stays). */
export const UsuarioUpdate = z
  .object({ ...usuarioFields, senha: Senha.optional() })
  .refine(medicoIdRequired, medicoIdIssue)
  .meta({ id: 'UsuarioUpdate', example: EXEMPLO_USUARIO_UPDATE });
export type UsuarioUpdate = z.output<typeof UsuarioUpdate>;

/** A user as the API shows it: never the password hash. */
export const Usuario = z
  .object({
    id: z.uuid(),
    nome: z.string(),
    email: z.string(),
    papel: Papel,
    medicoId: z.string().nullable().optional(),
    ativo: z.boolean(),
    criadoEm: Instant,
    atualizadoEm: Instant,
  })
  .meta({ id: 'Usuario', example: EXEMPLO_USUARIO });
export type Usuario = z.output<typeof Usuario>;

/** A user as stored: with the password hash. */
export interface UsuarioRecord extends Usuario {
  senhaHash: string;
}

export const UsuarioRecordSchema = Usuario.extend({ senhaHash: z.string().min(1) });

export const ListUsuariosQuery = z.object({ ...Pagination });
export type ListUsuariosQuery = z.output<typeof ListUsuariosQuery>;
export const UsuarioList = listOf(Usuario, 'UsuarioList');

export const LoginInput = z
  // Any text: one that is not a well-formed e-mail just matches no account (401, and counted). Control characters
  // are refused (400): no account's e-mail holds one, and PostgreSQL cannot compare a text holding NUL.
  .object({ email: texto({ max: EMAIL_MAX }).transform((e) => e.toLowerCase()), senha: z.string().max(SENHA_MAX) })
  .meta({ id: 'LoginInput', example: EXEMPLO_LOGIN });
export type LoginInput = z.output<typeof LoginInput>;

export const SessaoUsuario = z
  .object({ id: z.uuid(), nome: z.string(), email: z.string(), papel: Papel, medicoId: z.string().optional() })
  .meta({ id: 'SessaoUsuario', example: EXEMPLO_SESSAO_USUARIO });
export type SessaoUsuario = z.output<typeof SessaoUsuario>;

export const LoginResult = z
  .object({ token: z.string(), expiraEm: Instant, usuario: SessaoUsuario })
  .meta({ id: 'LoginResult', example: EXEMPLO_LOGIN_RESULT });

export const Sessao = z.object({ expiraEm: Instant, usuario: SessaoUsuario }).meta({ id: 'Sessao', example: EXEMPLO_SESSAO });

export const TrocarSenhaInput = z
  .object({ senhaAtual: z.string().max(SENHA_MAX), novaSenha: Senha })
  .meta({ id: 'TrocarSenhaInput', example: EXEMPLO_TROCAR_SENHA });
export type TrocarSenhaInput = z.output<typeof TrocarSenhaInput>;

/** A session as stored: keyed by the SHA-256 of its token, so the data files never hold a usable token. */
export interface SessaoRecord {
  id: string;
  usuarioId: string;
  criadaEm: string;
  /** Last use, ms since the epoch (touched at most once a minute). */
  usadaEm: number;
}
export const SessaoRecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  usuarioId: z.uuid(),
  criadaEm: z.string(),
  usadaEm: EpochMs,
});
