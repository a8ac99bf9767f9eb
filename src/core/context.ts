import { AsyncLocalStorage } from 'node:async_hooks';

/** The three roles of the contract. */
export const PAPEIS = ['admin', 'recepcao', 'medico'] as const;
export type Papel = (typeof PAPEIS)[number];

/** Who is acting: the signed-in user behind a request. */
export interface Actor {
  usuarioId: string;
  papel: Papel;
  /** Set for `medico` users: the médico whose agenda they own. */
  medicoId?: string | undefined;
  /** The session's id (not its token): keys per-session limits. */
  sessionId: string;
}

/** What travels with one request, from the first middleware down to services and the audit trail. */
export interface RequestContext {
  requestId: string;
  ip: string;
  actor?: Actor | undefined;
}

const storage = new AsyncLocalStorage<RequestContext>();

/**
 * The request context (style habit 17): set once per request by the HTTP layer, read by services for audit
 * and logs, so no service ever sees `req`. Work started outside a request (timers, the CLI, tests calling
 * services directly) has no context: {@link currentContext} answers `undefined` there.
 */
export const requestScope = {
  run<R>(context: RequestContext, fn: () => R): R {
    return storage.run(context, fn);
  },
  /** Attaches the signed-in user to the current request's context. */
  setActor(actor: Actor): void {
    const context = storage.getStore();
    if (context) context.actor = actor;
  },
};

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentActor(): Actor | undefined {
  return storage.getStore()?.actor;
}
