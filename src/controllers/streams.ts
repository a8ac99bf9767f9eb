import type { Request } from 'express';
import { currentActor, type Actor } from '../core/context.js';

/**
 * Whose event streams a request opens, for the per-session cap: the signed-in session's id from the request
 * context, otherwise the client's address (so clients without a session are capped per address).
 */
export function streamOwner(req: Request): string {
  return currentActor()?.sessionId ?? req.ip ?? 'desconhecido';
}

/** Whose account a request's streams count against, over all its sessions (`SseBroker`'s per-user cap); none without a session. */
export function streamUser(): string | undefined {
  return currentActor()?.usuarioId;
}

/** What answers whether a session checked when a stream opened still stands (`AuthService.stillValid`). */
export interface StreamSessions {
  stillValid(actor: Actor): Promise<boolean>;
}

/**
 * The stream's heartbeat question (`SseBroker.connect`'s `recheck`): the session that opened it still stands as it
 * was. A logout, a password change, a deactivation or a change of role or médico ends the stream at the next heartbeat.
 */
export function streamRecheck(sessions: StreamSessions): (() => Promise<boolean>) | undefined {
  const actor = currentActor();
  return actor ? () => sessions.stillValid(actor) : undefined;
}
