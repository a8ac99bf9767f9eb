import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { stringify } from 'yaml';
import type { RouteSpec } from '../http/route.js';
import { Problem } from '../schemas/common.js';

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
  license?: { name: string; identifier?: string };
}

/** Builds the OpenAPI 3.1 document from the same route specs that build the router. */
export function buildOpenApiDocument(routes: readonly RouteSpec[], info: ApiInfo): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const responses: ZodOpenApiResponsesObject = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const contentType = spec.contentType ?? 'application/json';
      responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
        description: spec.description,
        ...(spec.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
              ),
            }
          : {}),
        ...(spec.schema
          ? { content: { [contentType]: { schema: spec.schema } } }
          : spec.contentType
            ? { content: { [contentType]: { schema: { type: 'string', format: 'binary' } } } }
            : {}),
      };
    }
    if (route.permission !== 'publico') {
      responses['401'] ??= {
        description: 'Sem sessão válida (`/problemas/nao-autenticado`)',
        content: { 'application/problem+json': { schema: Problem } },
      };
      responses['403'] ??= {
        description: `O papel não tem a permissão \`${route.permission}\` (\`/problemas/acesso-negado\`), ou requisição de outra origem (\`/problemas/origem-nao-permitida\`)`,
        content: { 'application/problem+json': { schema: Problem } },
      };
    }
    if (route.method !== 'get' && route.permission !== 'publico') {
      responses['429'] ??= {
        description: 'Escritas demais por minuto nesta sessão (WRITE_RATE_LIMIT), com Retry-After',
        headers: { 'Retry-After': { description: 'Segundos até tentar de novo', schema: { type: 'string' } } },
        content: { 'application/problem+json': { schema: Problem } },
      };
    }
    responses['500'] ??= {
      description: 'Erro interno (sem detalhes)',
      content: { 'application/problem+json': { schema: Problem } },
    };
    const operation: ZodOpenApiOperationObject = {
      tags: [route.tag],
      summary: route.summary,
      operationId: operationId(route),
      // Who may call it: the session (cookie or bearer), and the permission of the policy table.
      security: route.permission === 'publico' ? [] : [{ bearer: [] }, { cookie: [] }],
      ...(route.permission === 'publico' ? {} : { 'x-permissao': route.permission }),
      ...(route.description ? { description: route.description } : {}),
      ...(route.params || route.query || route.headers
        ? {
            requestParams: {
              ...(route.params ? { path: route.params } : {}),
              ...(route.query ? { query: route.query } : {}),
              ...(route.headers ? { header: route.headers } : {}),
            },
          }
        : {}),
      ...(route.body ? { requestBody: { required: !route.optionalBody, content: { 'application/json': { schema: route.body } } } } : {}),
      responses,
    };
    paths[path] = { ...paths[path], [route.method]: operation };
  }
  const document = createDocument({
    openapi: '3.1.0',
    info: { ...info },
    // Relative: Swagger UI then calls the server that served it, whatever its host and port (default :8000).
    servers: [{ url: '/', description: 'Este servidor (padrão http://localhost:8000)' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'O `token` devolvido por POST /auth/login' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'sessao', description: 'O cookie `sessao` que POST /auth/login define (navegadores)' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
  });
  const plain = JSON.parse(JSON.stringify(document)) as Record<string, unknown>;
  exampleArraysOfExamples(plain);
  return plain;
}

type JsonObject = Record<string, unknown>;

/**
 * A body that is a bare array of a component (`GET /sistema/backups`) gets an example of one item, the
 * component's own: otherwise Swagger UI makes one up from the item's bounds (integers of -2^53).
 */
function exampleArraysOfExamples(document: JsonObject): void {
  const components = ((document['components'] as JsonObject | undefined)?.['schemas'] ?? {}) as Record<string, JsonObject>;
  for (const pathItem of Object.values(document['paths'] as Record<string, JsonObject>)) {
    for (const operation of Object.values(pathItem) as JsonObject[]) {
      const bodies = [operation['requestBody'], ...Object.values((operation['responses'] ?? {}) as JsonObject)] as (JsonObject | undefined)[];
      for (const body of bodies) {
        for (const media of Object.values((body?.['content'] ?? {}) as Record<string, JsonObject>)) {
          const schema = media['schema'] as JsonObject | undefined;
          const ref = (schema?.['items'] as JsonObject | undefined)?.['$ref'];
          if (schema?.['type'] !== 'array' || schema['example'] !== undefined || typeof ref !== 'string') continue;
          const item = components[ref.split('/').pop() ?? '']?.['example'];
          if (item !== undefined) schema['example'] = [structuredClone(item)];
        }
      }
    }
  }
}

/**
 * The document as YAML that reads the same in YAML 1.1 and 1.2 parsers. Written as 1.1, the `yaml` package quotes
 * every string a 1.1 parser would turn into something else: dates and date-times (timestamps), `08:00`
 * (a base-60 number), `yes`/`no`/`on`/`off`/`n` (booleans). A 1.2 parser reads the quoted strings the same way.
 */
export function toYaml(document: Record<string, unknown>): string {
  return stringify(document, { lineWidth: 0, version: '1.1', aliasDuplicateObjects: false });
}

function operationId(route: RouteSpec): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith(':') ? `By${cap(part.slice(1))}` : cap(part)));
  return route.method + words.join('');
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1).replace(/[^\w]/g, '');
