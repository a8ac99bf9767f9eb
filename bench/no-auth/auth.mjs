/**
 * `dist/src/http/auth.js` without authentication and authorization (bench only). Everything else it exports
 * (the CSRF origin guard, the write rate limit, the token parser) is the real code: local exports shadow the
 * same names of `export *`.
 *
 * - `authenticate` reads no header, hashes no token, looks up no session or user and renews nothing: it puts a
 *   fixed admin actor into the request context, so services, the policy table's narrowing and the audit trail
 *   run as they do for a signed-in admin (every write still stages its audit entry, with this actor).
 * - `authorize` lets every request through.
 */
import { requestScope } from '../../dist/src/core/context.js';

export * from '../../dist/src/http/auth.js';

/** Same shape as a real admin's actor; ids of the same lengths as real ones (a uuid, a sha256 in hex). */
const ADMIN = {
  usuarioId: '00000000-0000-4000-8000-000000000000',
  papel: 'admin',
  medicoId: undefined,
  sessionId: '0'.repeat(64),
};

export function authenticate() {
  return (_req, _res, next) => {
    requestScope.setActor(ADMIN);
    next();
  };
}

export function authorize() {
  return (_req, _res, next) => next();
}
