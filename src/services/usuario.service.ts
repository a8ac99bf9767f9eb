import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import { CONSOLE_ONLY, type Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { generatePassword, hashPassword } from '../infra/password.js';
import type { Page, Reads, StoragePort, UnitOfWork } from '../repositories/port.js';
import type { Usuario, UsuarioInput, UsuarioRecord, UsuarioUpdate } from '../schemas/usuario.schema.js';
import type { Auditor } from './audit.service.js';

export interface UsuarioServiceDeps {
  storage: StoragePort;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
}

/**
 * The users who sign in: unique e-mails, a médico behind every `medico` user, and always one active admin.
 * Deactivating a user, changing their role or password, or removing them ends their sessions at once.
 */
export class UsuarioService {
  constructor(private readonly deps: UsuarioServiceDeps) {}

  async list(query: { limit: number; offset: number }): Promise<Page<Usuario>> {
    const page = await this.deps.storage.usuarios.list(query.limit, query.offset);
    return { ...page, items: page.items.map(present) };
  }

  async get(id: string): Promise<Usuario> {
    return present(found(await this.deps.storage.usuarios.get(id)));
  }

  async create(input: UsuarioInput): Promise<Usuario> {
    const senhaHash = await hashPassword(input.senha);
    const { storage, auditor, logger } = this.deps;
    const now = this.now();
    const usuario: UsuarioRecord = { id: randomUUID(), ...editable(input), senhaHash, criadoEm: now, atualizadoEm: now };
    await storage.run(async (tx) => {
      await assertValid(tx, input);
      await tx.usuarios.save(usuario);
      await auditor.stage(tx, { acao: 'usuario.criar', recurso: 'usuario', recursoId: usuario.id, status: 201 });
    });
    logger.info({ usuarioId: usuario.id, papel: usuario.papel }, 'usuário criado');
    return present(usuario);
  }

  async replace(id: string, input: UsuarioUpdate): Promise<Usuario> {
    const senhaHash = input.senha ? await hashPassword(input.senha) : undefined;
    const { storage, auditor } = this.deps;
    const updated = await storage.run(async (tx) => {
      const current = found(await tx.usuarios.get(id));
      await assertValid(tx, input, id);
      if (current.papel === 'admin' && current.ativo && (input.papel !== 'admin' || !input.ativo)) await assertNotLastAdmin(tx, id);
      const usuario: UsuarioRecord = { ...current, ...editable(input), senhaHash: senhaHash ?? current.senhaHash, atualizadoEm: this.now() };
      await tx.usuarios.save(usuario);
      const privilegesChanged = senhaHash !== undefined || !usuario.ativo || usuario.papel !== current.papel || usuario.medicoId !== current.medicoId;
      if (privilegesChanged) await endSessions(tx, id);
      await auditor.stage(tx, { acao: 'usuario.atualizar', recurso: 'usuario', recursoId: id, status: 200 });
      return usuario;
    });
    return present(updated);
  }

  async remove(id: string): Promise<void> {
    const { storage, auditor } = this.deps;
    await storage.run(async (tx) => {
      const current = found(await tx.usuarios.get(id));
      if (current.papel === 'admin' && current.ativo) await assertNotLastAdmin(tx, id);
      await tx.usuarios.remove(id);
      await endSessions(tx, id);
      await auditor.stage(tx, { acao: 'usuario.excluir', recurso: 'usuario', recursoId: id, status: 204 });
    });
  }

  /**
   * First start with no users: creates the admin from `ADMIN_EMAIL` / `ADMIN_SENHA`, or with a generated
   * password that is printed once. Returns the password used, or undefined when users already exist.
   */
  async ensureFirstAdmin(email: string, senha: string | undefined): Promise<string | undefined> {
    const { storage, auditor, logger } = this.deps;
    if ((await storage.usuarios.count()) > 0) return undefined;
    const password = senha ?? generatePassword();
    const senhaHash = await hashPassword(password);
    const now = this.now();
    const admin: UsuarioRecord = { id: randomUUID(), nome: 'Administrador', email, papel: 'admin', medicoId: null, ativo: true, senhaHash, criadoEm: now, atualizadoEm: now };
    const created = await storage
      .run(async (tx) => {
        if ((await tx.usuarios.count()) > 0) return false; // another process made it first
        await tx.usuarios.save(admin);
        await auditor.stage(tx, { acao: 'usuario.criar', recurso: 'usuario', status: 201 });
        return true;
      })
      .catch((error: unknown) => {
        // Processes starting together on one database: the other one's admin may win on the unique e-mail.
        if (error instanceof AppError && error.code === 'EMAIL_DUPLICADO') return false;
        throw error;
      });
    if (!created) return undefined;
    if (senha === undefined) {
      // The e-mail stays out of the line, as out of every log line: it is the one in ADMIN_EMAIL.
      logger.warn(CONSOLE_ONLY, `primeiro acesso: entre como o administrador (o e-mail de ADMIN_EMAIL) com a senha ${password} (mostrada só agora; troque-a em POST /auth/senha)`);
    } else {
      logger.info('administrador inicial criado a partir de ADMIN_EMAIL e ADMIN_SENHA');
    }
    return password;
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function found(usuario: UsuarioRecord | undefined): UsuarioRecord {
  if (!usuario) throw notFound('Usuário');
  return usuario;
}

async function assertValid(reads: Pick<Reads, 'usuarios' | 'medicos'>, input: UsuarioInput | UsuarioUpdate, exceptId?: string): Promise<void> {
  const holder = await reads.usuarios.findByEmail(input.email);
  if (holder && holder.id !== exceptId) {
    throw new AppError('EMAIL_DUPLICADO', 'Já existe um usuário com este e-mail.', [{ path: 'email', message: 'E-mail já cadastrado.' }]);
  }
  if (input.papel === 'medico' && !(await reads.medicos.get(input.medicoId!))) {
    throw new AppError('REFERENCIA_INVALIDA', 'O médico informado não existe.', [{ path: 'medicoId', message: 'Médico inexistente.' }]);
  }
}

async function assertNotLastAdmin(reads: Pick<Reads, 'usuarios'>, id: string): Promise<void> {
  if (!(await reads.usuarios.hasOtherActiveAdmin(id))) {
    throw new AppError('ULTIMO_ADMIN', 'É preciso manter ao menos um administrador ativo.');
  }
}

/** Ends every session of the user, inside the unit of work that changed them. */
export async function endSessions(tx: UnitOfWork, usuarioId: string, except?: string): Promise<void> {
  for (const s of await tx.sessoes.ofUser(usuarioId)) if (s.id !== except) await tx.sessoes.remove(s.id);
}

function editable(input: UsuarioInput | UsuarioUpdate): Pick<UsuarioRecord, 'nome' | 'email' | 'papel' | 'medicoId' | 'ativo'> {
  return { nome: input.nome, email: input.email, papel: input.papel, medicoId: input.papel === 'medico' ? (input.medicoId ?? null) : null, ativo: input.ativo };
}

/** Never the password hash. */
export function present(u: UsuarioRecord): Usuario {
  const { senhaHash: _hash, ...usuario } = u;
  return usuario;
}
