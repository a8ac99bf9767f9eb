/**
 * Module resolution hook (bench only): every import of `dist/src/http/auth.js` gets `auth.mjs` instead, except
 * the import made by `auth.mjs` itself, which re-exports the real module. Runs at startup only; requests never
 * pass through here.
 */
const REAL = new URL('../../dist/src/http/auth.js', import.meta.url).href;
const SHIM = new URL('./auth.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  return resolved.url === REAL && context.parentURL !== SHIM ? { ...resolved, url: SHIM, format: 'module' } : resolved;
}
