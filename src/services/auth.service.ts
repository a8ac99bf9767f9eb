import { hash, randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Actor } from '../core/context.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import { decoyHash, hashPassword, verifyPassword } from '../infra/password.js';
import type { FailureLog } from '../repositories/limits.js';
import type { StoragePort } from '../repositories/port.js';
import type { SessaoRecord, SessaoUsuario, UsuarioRecord } from '../schemas/usuario.schema.js';
import type { Auditor } from './audit.service.js';
import { LoginThrottle } from './login-throttle.js';
import { purgeInChunks } from './purge.js';
import { endSessions } from './usuario.service.js';

export interface AuthServiceDeps {
  storage: StoragePort;
  /** Where failed sign-ins are counted: shared by every process of a PostgreSQL database (see LoginThrottle). */
  loginFailures: FailureLog;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** Minutes of inactivity after which a session ends. */
  sessionTtlMin: number;
}

/** A signed-in request: who, and the session that proved it. */
export interface Authenticated {
  actor: Actor;
  usuario: UsuarioRecord;
  expiraEm: string;
  /** Set when this use renewed the session: durable once it resolves. */
  renewal?: Promise<void> | undefined;
}

export interface LoginResult {
  token: string;
  expiraEm: string;
  usuario: SessaoUsuario;
}

/** A session's last-use time is written at most this often (each touch is a durable write). */
const TOUCH_EVERY_MS = 60_000;

/**
 * The SHA-256 of a token: what storage keeps, so a copy of the data holds no usable session. Computed on
 * every request: the one-shot `hash` costs about half of `createHash(…).update(…).digest(…)` and allocates no
 * stream object.
 */
export const tokenId = (token: string): string => hash('sha256', token, 'hex');

/**
 * Sign-in and sessions. Tokens are 256 random bits, handed out once and stored only as their hash; a session
 * lives until `sessionTtlMin` minutes pass without use, until logout, or until its user changes password, is
 * deactivated or removed. The user is read again on every request, so a role change takes effect at once.
 */
export class AuthService {
  private readonly throttle: LoginThrottle;
  private decoy: Promise<string> | undefined;
  /**
   * Each session record's expiry as text: records change only when renewed, so with a driver that hands out the
   * same record object until it changes (JSON) this is formatted once a minute, not per request. A driver that
   * reads a fresh object each time (PostgreSQL) just misses, and the entry goes with the object.
   */
  private readonly expiries = new WeakMap<SessaoRecord, string>();

  constructor(private readonly deps: AuthServiceDeps) {
    this.throttle = new LoginThrottle({ failures: deps.loginFailures, clock: deps.clock, maxFailures: 5, windowMs: 15 * 60_000 });
  }

  async login(email: string, senha: string): Promise<LoginResult> {
    const { storage, auditor, clock } = this.deps;
    // Locked accounts are refused before the password is looked at, even the right one. Storage that cannot be
    // reached rejects here (503): a sign-in is never let through uncounted.
    await this.throttle.admit(email);
    const usuario = await storage.usuarios.findByEmail(email);
    // Unknown e-mails are checked against a decoy hash: the same work, the same answer, about the same time.
    const ok = await verifyPassword(senha, usuario?.senhaHash ?? (await (this.decoy ??= decoyHash())));
    if (!usuario || !ok || !usuario.ativo) {
      // Already counted as a failure when it was admitted.
      await auditor.record({ acao: 'auth.falha', recurso: 'sessao', status: 401, usuarioId: usuario?.id, papel: usuario?.papel });
      throw new AppError('CREDENCIAIS_INVALIDAS', 'E-mail ou senha incorretos.');
    }
    await this.throttle.succeed(email);
    const token = randomBytes(32).toString('base64url');
    const now = clock.now();
    const sessao: SessaoRecord = { id: tokenId(token), usuarioId: usuario.id, criadaEm: formatInstant(now, this.deps.timezone), usadaEm: now.getTime() };
    await storage.run(async (tx) => {
      await tx.sessoes.save(sessao);
      await auditor.stage(tx, { acao: 'auth.login', recurso: 'sessao', status: 200, usuarioId: usuario.id, papel: usuario.papel });
    });
    this.deps.logger.info({ usuarioId: usuario.id }, 'sessão iniciada');
    return { token, expiraEm: this.expiry(sessao.usadaEm), usuario: presentSessionUser(usuario) };
  }

  /** The user behind a token, or undefined (unknown, expired, user inactive or gone). Touches the session. */
  async authenticate(token: string): Promise<Authenticated | undefined> {
    if (token.length < 16 || token.length > 200) return undefined;
    const standing = await this.standing(tokenId(token));
    if (!standing) return undefined;
    const { sessao, usuario, now } = standing;
    const renewal = now - sessao.usadaEm > TOUCH_EVERY_MS ? this.touch(sessao, now) : undefined;
    return {
      renewal,
      actor: { usuarioId: usuario.id, papel: usuario.papel, medicoId: usuario.medicoId ?? undefined, sessionId: sessao.id },
      usuario,
      // The session ends `ttl` after its recorded use: now when this use renews it, otherwise the stored time.
      expiraEm: renewal ? this.expiry(now) : this.recordedExpiry(sessao),
    };
  }

  /**
   * Whether a session checked earlier still stands as it was: not ended (logout, password change, deactivation),
   * not expired, and its user still active with the same role and médico. For what outlives one request (an
   * event stream), which must stop when any of these changes.
   */
  async stillValid(actor: Actor): Promise<boolean> {
    const usuario = (await this.standing(actor.sessionId))?.usuario;
    return usuario !== undefined && usuario.id === actor.usuarioId && usuario.papel === actor.papel && (usuario.medicoId ?? undefined) === actor.medicoId;
  }

  /** A session that still stands (there, not expired) and its user, if still active; `now` is when it was asked. */
  private async standing(sessionId: string): Promise<{ sessao: SessaoRecord; usuario: UsuarioRecord; now: number } | undefined> {
    const { storage, clock } = this.deps;
    const sessao = await storage.sessoes.get(sessionId);
    if (!sessao) return undefined;
    const now = clock.now().getTime();
    if (now - sessao.usadaEm > this.ttlMs) return undefined;
    const usuario = await storage.usuarios.get(sessao.usuarioId);
    return usuario && usuario.ativo ? { sessao, usuario, now } : undefined;
  }

  /** The current record of the acting user (the session was checked a moment ago). */
  async authenticateActor(actor: Actor): Promise<UsuarioRecord> {
    const usuario = await this.deps.storage.usuarios.get(actor.usuarioId);
    if (!usuario) throw new AppError('NAO_AUTENTICADO', 'Sessão encerrada.');
    return usuario;
  }

  /** Ends one session at once. */
  async logout(actor: Actor): Promise<void> {
    await this.deps.storage.run(async (tx) => {
      await tx.sessoes.remove(actor.sessionId);
      await this.deps.auditor.stage(tx, { acao: 'auth.logout', recurso: 'sessao', status: 204 });
    });
  }

  /**
   * Changes the user's own password; every other session of theirs ends. A wrong current password counts against
   * the account as a failed sign-in does (5 in 15 minutes, then 429 for both): a session alone, left open on a shared
   * screen, must not be a way to guess the password that outlives it.
   */
  async changePassword(actor: Actor, senhaAtual: string, novaSenha: string): Promise<void> {
    const { storage, auditor } = this.deps;
    const usuario = await storage.usuarios.get(actor.usuarioId);
    if (!usuario) throw new AppError('NAO_AUTENTICADO', 'Sessão encerrada.');
    await this.throttle.admit(usuario.email);
    if (!(await verifyPassword(senhaAtual, usuario.senhaHash))) {
      await auditor.record({ acao: 'auth.senha.falha', recurso: 'usuario', recursoId: actor.usuarioId, status: 401 });
      throw new AppError('CREDENCIAIS_INVALIDAS', 'A senha atual não confere.', [{ path: 'senhaAtual', message: 'Senha atual incorreta.' }]);
    }
    await this.throttle.succeed(usuario.email);
    const senhaHash = await hashPassword(novaSenha);
    const atualizadoEm = formatInstant(this.deps.clock.now(), this.deps.timezone);
    await storage.run(async (tx) => {
      const current = await tx.usuarios.get(actor.usuarioId);
      if (!current) throw new AppError('NAO_AUTENTICADO', 'Sessão encerrada.');
      await tx.usuarios.save({ ...current, senhaHash, atualizadoEm });
      await endSessions(tx, actor.usuarioId, actor.sessionId);
      await auditor.stage(tx, { acao: 'auth.senha', recurso: 'usuario', recursoId: actor.usuarioId, status: 204 });
    });
  }

  /** Deletes sessions idle past their lifetime (they already fail; this keeps storage small). */
  async purgeExpired(): Promise<number> {
    const { storage, clock } = this.deps;
    const cutoff = clock.now().getTime() - this.ttlMs;
    // A session renewed since it was found expired (by any process) is not removed: see `purgeInChunks`.
    return purgeInChunks(
      storage,
      async (reads, limit) => (await reads.sessoes.expired(cutoff, limit)).map((s) => s.id),
      (tx, id) => tx.sessoes.remove(id),
    );
  }

  private touch(sessao: SessaoRecord, now: number): Promise<void> {
    const { storage, logger } = this.deps;
    return storage
      .run(async (tx) => {
        const current = await tx.sessoes.get(sessao.id);
        if (current && current.usadaEm < now) await tx.sessoes.save({ ...current, usadaEm: now });
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'não foi possível renovar a sessão'));
  }

  private get ttlMs(): number {
    return this.deps.sessionTtlMin * 60_000;
  }

  private expiry(usadaEm: number): string {
    return formatInstant(usadaEm + this.ttlMs, this.deps.timezone);
  }

  private recordedExpiry(sessao: SessaoRecord): string {
    let text = this.expiries.get(sessao);
    if (text === undefined) this.expiries.set(sessao, (text = this.expiry(sessao.usadaEm)));
    return text;
  }
}

/** The user as a session shows it. */
export function presentSessionUser(u: UsuarioRecord): SessaoUsuario {
  return { id: u.id, nome: u.nome, email: u.email, papel: u.papel, ...(u.medicoId ? { medicoId: u.medicoId } : {}) };
}

