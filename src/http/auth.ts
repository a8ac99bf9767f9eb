import type { Request, RequestHandler } from 'express';
import { currentActor, requestScope } from '../core/context.js';
import { AppError } from '../core/errors.js';
import { scopeOf, type Permission } from '../core/permissions.js';
import type { Clock } from '../core/clock.js';
import type { WindowCounter } from '../repositories/limits.js';
import type { AuthService } from '../services/auth.service.js';

/** The session cookie's name (contract). */
export const SESSION_COOKIE = 'sessao';

/** The session token a request carries: `Authorization: Bearer …` first, then the `sessao` cookie. */
export function sessionToken(req: Request): { token: string; via: 'bearer' | 'cookie' } | undefined {
  const header = req.headers.authorization;
  if (header) {
    const match = /^Bearer\s+([\w-]{16,200})\s*$/i.exec(header);
    return match ? { token: match[1]!, via: 'bearer' } : undefined;
  }
  const cookie = req.headers.cookie;
  if (!cookie) return undefined;
  const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([\\w-]{16,200})(?:;|$)`).exec(cookie);
  return match ? { token: match[1]!, via: 'cookie' } : undefined;
}

/**
 * Finds who is signing the request in (if anyone) and puts them in the request context. It never refuses:
 * whether a route needs a user is the route's own declaration, checked by {@link authorize}.
 */
export function authenticate(auth: AuthService): RequestHandler {
  return async (req, res, next) => {
    const carried = sessionToken(req);
    if (carried) {
      // Storage may be unreachable (a database restarting): that rejects, and Express answers the 503 problem.
      const found = await auth.authenticate(carried.token);
      if (found) {
        requestScope.setActor(found.actor);
        res.locals.authVia = carried.via;
        res.locals.sessionExpiry = found.expiraEm;
        // The renewal is durable before the answer leaves (it never rejects: a failed renewal is only logged).
        if (found.renewal) await found.renewal;
      }
    }
    next();
  };
}

/** The route's permission, checked against the policy table: 401 without a session, 403 without the right. */
export function authorize(permission: Permission | 'publico'): RequestHandler {
  return (_req, _res, next) => {
    if (permission === 'publico') return next();
    const actor = currentActor();
    if (!actor) throw new AppError('NAO_AUTENTICADO', 'Entre no sistema para continuar (POST /auth/login).');
    if (!scopeOf(actor.papel, permission)) throw new AppError('ACESSO_NEGADO', 'Seu papel não tem permissão para esta operação.');
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery guard. A browser sends the session cookie with cross-site requests too (a form
 * POST, even bodiless or `text/plain`), so an unsafe request is accepted only when it provably comes from an
 * allowed page: its `Origin` is this server's own or listed in `CORS_ORIGINS`, or `Sec-Fetch-Site` says
 * same-origin, or it was sent with the bearer header (which a cross-site form cannot set). A cookie-carrying
 * request with none of these (an old browser, or a form from elsewhere) is refused. Applies to sign-in as
 * well (login CSRF).
 */
export function originGuard(allowed: readonly string[]): RequestHandler {
  const list = new Set(allowed);
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.headers.origin;
    const own = `${req.protocol}://${req.headers.host ?? ''}`;
    if (origin !== undefined) {
      if (origin === own || list.has(origin)) return next();
      throw new AppError('ORIGEM_NAO_PERMITIDA', `Requisições vindas de ${origin.slice(0, 100)} não são aceitas.`);
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'same-origin' || site === 'none') return next();
    const carried = sessionToken(req);
    if (carried?.via === 'cookie' || site === 'cross-site' || site === 'same-site') {
      throw new AppError('ORIGEM_NAO_PERMITIDA', 'Requisição sem origem verificável; envie o cabeçalho Origin ou use Authorization: Bearer.');
    }
    next();
  };
}

/** The write limit's fixed window. */
const WRITE_WINDOW_MS = 60_000;

/**
 * Writes per minute per session (`WRITE_RATE_LIMIT`, 0 = off), in fixed one-minute windows; beyond it, 429 with
 * `Retry-After`. Counted in the storage's {@link WindowCounter}: with PostgreSQL across every process of the
 * database (a session gets `limit` writes a minute whichever processes its requests reach), with the JSON driver
 * per process. A counter that cannot be reached rejects (503), and the write is not let through.
 */
export function writeRateLimit(limit: number, clock: Clock, counter: WindowCounter): RequestHandler {
  return async (req, _res, next) => {
    const actor = currentActor();
    if (limit === 0 || SAFE_METHODS.has(req.method) || !actor) return next();
    const now = clock.now().getTime();
    const window = await counter.hit(`escritas:${actor.sessionId}`, now, WRITE_WINDOW_MS);
    if (window.count > limit) {
      const seconds = Math.max(1, Math.ceil(Math.min(WRITE_WINDOW_MS, window.start + WRITE_WINDOW_MS - now) / 1000));
      throw new AppError('MUITAS_ESCRITAS', `Limite de ${limit} escritas por minuto atingido. Tente de novo em ${seconds} s.`, undefined, {
        headers: { 'Retry-After': String(seconds) },
      });
    }
    next();
  };
}
