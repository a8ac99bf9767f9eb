import type { RequestHandler, Router } from 'express';
import type { z } from 'zod';
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
}
