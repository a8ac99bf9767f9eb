import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { AppError, type FieldError } from '../core/errors.js';

export interface Schemas {
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  optionalBody?: boolean;
}

/**
 * Validates the parts of a request once, at the edge. Parsed values replace the raw ones
 * (`req.query` is a getter in Express 5, so it is redefined on the request). Path parameters are checked, not
 * replaced: they stay the strings Express matched.
 */
export function validate(schemas: Schemas): RequestHandler {
  return (req, _res, next) => {
    const errors: FieldError[] = [];
    const parse = <S extends z.ZodType>(schema: S | undefined, value: unknown, prefix: string): z.output<S> | undefined => {
      if (!schema) return undefined;
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        errors.push({ path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix, message: issue.message });
      }
      return undefined;
    };
    const raw = req.body === undefined && schemas.optionalBody ? {} : req.body;
    if (schemas.body && raw === undefined) {
      errors.push({ path: 'body', message: 'Corpo JSON obrigatório.' });
    }
    parse(schemas.params, req.params, '');
    const query = parse(schemas.query, req.query, '');
    const body = raw === undefined ? undefined : parse(schemas.body, raw, '');
    if (errors.length > 0) {
      throw new AppError('VALIDACAO', `A requisição tem ${errors.length} ${errors.length === 1 ? 'erro' : 'erros'} de validação.`, errors.slice(0, 50));
    }
    if (schemas.query) Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true });
    if (schemas.body) req.body = body;
    next();
  };
}
