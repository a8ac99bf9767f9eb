import type { RequestHandler, Router } from 'express';
import type { z } from 'zod';
import { AppError } from '../core/errors.js';
import type { Permission } from '../core/permissions.js';
import { authorize } from './auth.js';
import { validate } from './validate.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** JSON body schema; omit for empty responses. */
  schema?: z.ZodType;
  /** Content type when the body is not JSON (PDF, ZIP, text). */
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One operation of the API: how it is validated, what it answers and which handler serves it.
 * The router and the OpenAPI document are both built from these, so they cannot drift apart.
 */
export interface RouteSpec {
  method: HttpMethod;
  /** Express-style path, `/medicos/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /**
   * Request headers the operation honours (`Idempotency-Key`, `Prefer`, `Last-Event-ID`), keyed by their
   * canonical name. Documentation only: the handler reads and checks them itself, since a bad header must
   * answer the same way whether or not the document declares it.
   */
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** The body may be left out entirely (it is then validated as `{}`). */
  optionalBody?: boolean;
  /**
   * Who may call it: a permission of the policy table (`core/permissions.ts`), or `publico`. Required, so a
   * route cannot be added without deciding.
   */
  permission: Permission | 'publico';
  responses: Record<number, ResponseSpec>;
  handler: RequestHandler;
}

/**
 * Mounts each route as `authorize → (rate limit) → validate → handler`: who may call it is checked before
 * anything about the request is revealed. Express 5 forwards rejected promises to the error handler.
 */
export function mount(router: Router, routes: readonly RouteSpec[], beforeValidation: RequestHandler[] = []): void {
  for (const route of routes) {
    router[route.method](route.path, authorize(route.permission), ...beforeValidation, validate(route), route.handler);
  }
  refuseOtherMethods(router, routes);
}

/** The order methods are listed in an `Allow` header. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Answers 405 `/problemas/metodo-nao-permitido` with `Allow` to a method that none of the routes at a known path
 * takes (`DELETE /medicos` → `Allow: GET, HEAD, POST`), where Express alone would answer 404 as if the path did
 * not exist. Call it after the routes are mounted: a method some route takes never gets here.
 *
 * `Allow` is the union of every route whose path matches the URL, so `/sistema/tasks/backup` lists `GET` (of
 * `/sistema/tasks/:id`) and `POST`. `HEAD` goes with `GET`, as Express answers it from the GET route. `OPTIONS` is
 * left to CORS and Express (which answer it with the same methods).
 *
 * No authentication first: the answer reveals only which methods a path takes, which `/openapi.yaml` and `/docs`
 * publish to anyone, and a client that cannot tell a wrong method from a missing session is worse served.
 *
 * Middleware rather than `router.all()`, so the route table keeps only the API's real operations.
 */
export function refuseOtherMethods(router: Router, routes: readonly Pick<RouteSpec, 'method' | 'path'>[]): void {
  const byPath = new Map<string, Set<string>>();
  for (const route of routes) {
    const methods = byPath.get(route.path) ?? new Set<string>();
    methods.add(route.method.toUpperCase());
    if (route.method === 'get') methods.add('HEAD');
    byPath.set(route.path, methods);
  }
  for (const [path, methods] of byPath) {
    router.use(path, (req, res, next) => {
      // `use` matches a prefix (`/medicos` also matches `/medicos/x/y`): only an empty rest is this very path.
      if (req.path === '/') {
        const allowed = (res.locals['allowedMethods'] as Set<string> | undefined) ?? new Set<string>();
        for (const method of methods) allowed.add(method);
        res.locals['allowedMethods'] = allowed;
      }
      next();
    });
  }
  router.use((req, res, next) => {
    const allowed = res.locals['allowedMethods'] as Set<string> | undefined;
    if (!allowed || req.method === 'OPTIONS') return next();
    const list = METHOD_ORDER.filter((method) => allowed.has(method));
    const path = req.originalUrl.split('?')[0] ?? '/';
    throw new AppError('METODO_NAO_PERMITIDO', `${path} não aceita o método ${req.method.slice(0, 20)}; use ${list.join(', ')}.`, undefined, {
      headers: { Allow: list.join(', ') },
    });
  });
}
