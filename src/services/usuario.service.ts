import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { generatePassword, hashPassword } from '../infra/password.js';
import type { Store, Tx } from '../infra/storage/json/store.js';
import type { Page } from '../infra/storage/json/repositories/index.js';
import type { MedicoRepository } from '../infra/storage/json/repositories/medico.repository.js';
import type { SessaoRepository, UsuarioRepository } from '../infra/storage/json/repositories/usuario.repository.js';
import type { Usuario, UsuarioInput, UsuarioRecord, UsuarioUpdate } from '../schemas/usuario.schema.js';
import type { Auditor } from './audit.service.js';

export interface UsuarioServiceDeps {
  store: Store;
  usuarios: UsuarioRepository;
  sessoes: SessaoRepository;
  medicos: MedicoRepository;
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

  list(query: { limit: number; offset: number }): Page<Usuario> {
    const page = this.deps.usuarios.list(query.limit, query.offset);
    return { ...page, items: page.items.map(present) };
  }

  get(id: string): Usuario {
    return present(this.record(id));
  }

  async create(input: UsuarioInput): Promise<Usuario> {
    const senhaHash = await hashPassword(input.senha);
    const { store, usuarios, auditor, logger } = this.deps;
    const created = await store.transact((tx) => {
      this.assertValid(input);
      const now = this.now();
      const usuario: UsuarioRecord = { id: randomUUID(), ...editable(input), senhaHash, criadoEm: now, atualizadoEm: now };
      usuarios.save(tx, usuario);
      auditor.stage(tx, { acao: 'usuario.criar', recurso: 'usuario', recursoId: usuario.id, status: 201 });
      return usuario;
    });
    logger.info({ usuarioId: created.id, papel: created.papel }, 'usuário criado');
    return present(created);
  }

  async replace(id: string, input: UsuarioUpdate): Promise<Usuario> {
    const senhaHash = input.senha ? await hashPassword(input.senha) : undefined;
    const { store, usuarios, auditor } = this.deps;
    const updated = await store.transact((tx) => {
      const current = this.record(id);
      this.assertValid(input, id);
      if (current.papel === 'admin' && current.ativo && (input.papel !== 'admin' || !input.ativo)) this.assertNotLastAdmin(id);
      const usuario: UsuarioRecord = { ...current, ...editable(input), senhaHash: senhaHash ?? current.senhaHash, atualizadoEm: this.now() };
      usuarios.save(tx, usuario);
      const privilegesChanged = senhaHash !== undefined || !usuario.ativo || usuario.papel !== current.papel || usuario.medicoId !== current.medicoId;
      if (privilegesChanged) this.endSessions(tx, id);
      auditor.stage(tx, { acao: 'usuario.atualizar', recurso: 'usuario', recursoId: id, status: 200 });
      return usuario;
    });
    return present(updated);
  }

  async remove(id: string): Promise<void> {
    const { store, usuarios, auditor } = this.deps;
    await store.transact((tx) => {
      const current = this.record(id);
      if (current.papel === 'admin' && current.ativo) this.assertNotLastAdmin(id);
      usuarios.remove(tx, id);
      this.endSessions(tx, id);
      auditor.stage(tx, { acao: 'usuario.excluir', recurso: 'usuario', recursoId: id, status: 204 });
    });
  }

  /**
   * First start with no users: creates the admin from `ADMIN_EMAIL` / `ADMIN_SENHA`, or with a generated
   * password that is printed once. Returns the password used, or undefined when users already exist.
   */
  async ensureFirstAdmin(email: string, senha: string | undefined): Promise<string | undefined> {
    if (this.deps.usuarios.count() > 0) return undefined;
    const password = senha ?? generatePassword();
    const senhaHash = await hashPassword(password);
    const created = await this.deps.store.transact((tx) => {
      if (this.deps.usuarios.count() > 0) return false; // another process made it first
      const now = this.now();
      this.deps.usuarios.save(tx, { id: randomUUID(), nome: 'Administrador', email, papel: 'admin', medicoId: null, ativo: true, senhaHash, criadoEm: now, atualizadoEm: now });
      this.deps.auditor.stage(tx, { acao: 'usuario.criar', recurso: 'usuario', status: 201 });
      return true;
    });
    if (!created) return undefined;
    if (senha === undefined) {
      this.deps.logger.warn(`primeiro acesso: entre como ${email} com a senha ${password} (mostrada só agora; troque-a em POST /auth/senha)`);
    } else {
      this.deps.logger.info('administrador inicial criado a partir de ADMIN_EMAIL e ADMIN_SENHA');
    }
    return password;
  }

  private record(id: string): UsuarioRecord {
    const usuario = this.deps.usuarios.get(id);
    if (!usuario) throw notFound('Usuário');
    return usuario;
  }

  private assertValid(input: UsuarioInput | UsuarioUpdate, exceptId?: string): void {
    const holder = this.deps.usuarios.findByEmail(input.email);
    if (holder && holder.id !== exceptId) {
      throw new AppError('EMAIL_DUPLICADO', 'Já existe um usuário com este e-mail.', [{ path: 'email', message: 'E-mail já cadastrado.' }]);
    }
    if (input.papel === 'medico' && !this.deps.medicos.get(input.medicoId!)) {
      throw new AppError('REFERENCIA_INVALIDA', 'O médico informado não existe.', [{ path: 'medicoId', message: 'Médico inexistente.' }]);
    }
  }

  private assertNotLastAdmin(id: string): void {
    if (!this.deps.usuarios.hasOtherActiveAdmin(id)) {
      throw new AppError('ULTIMO_ADMIN', 'É preciso manter ao menos um administrador ativo.');
    }
  }

  private endSessions(tx: Tx, usuarioId: string): void {
    for (const s of this.deps.sessoes.ofUser(usuarioId)) this.deps.sessoes.remove(tx, s.id);
  }

  private now(): string {
    return formatInstant(this.deps.clock.now(), this.deps.timezone);
  }
}

function editable(input: UsuarioInput | UsuarioUpdate): Pick<UsuarioRecord, 'nome' | 'email' | 'papel' | 'medicoId' | 'ativo'> {
  return { nome: input.nome, email: input.email, papel: input.papel, medicoId: input.papel === 'medico' ? (input.medicoId ?? null) : null, ativo: input.ativo };
}

/** Never the password hash. */
export function present(u: UsuarioRecord): Usuario {
  const { senhaHash: _hash, ...usuario } = u;
  return usuario;
}
