/**
 * Bench only: `node --import ./bench/no-auth/register.mjs dist/src/server.js` starts the real server, built
 * from the same tree, with access control taken out, as the "without auth" reference of `npm run bench`.
 * Nothing in src/ knows about it and the server has no switch for it: the swap happens in the module loader,
 * only in this process (see hooks.mjs and auth.mjs).
 */
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
