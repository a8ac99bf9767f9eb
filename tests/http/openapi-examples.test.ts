import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import request, { type Response } from 'supertest';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '../../scripts/generate-openapi.js';
import { ManualClock } from '../../src/core/clock.js';
import { EXEMPLO_IDS, EXEMPLO_SENHA_ADMIN } from '../../src/schemas/examples.js';
import { makeApp } from '../helpers/app.js';

type Json = Record<string, unknown>;
type Media = { schema?: Json; example?: unknown; examples?: Record<string, { value?: unknown }> };
type Operation = {
  parameters?: { in: string; name: string; schema?: Json; example?: unknown }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
};
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');

const pointer = (segments: string[]) => segments.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const componentOf = (schema: Json | undefined): Json | undefined =>
  typeof schema?.['$ref'] === 'string' ? doc.components.schemas[(schema['$ref'] as string).split('/').pop()!] : schema;

/** What Swagger UI pre-fills for a body: the media type's example, else its schema's (or the referenced component's). */
function effectiveExample(media: Media): unknown {
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples ?? {})[0]?.value;
  if (first !== undefined) return first;
  const schema = media.schema;
  return schema?.['example'] ?? componentOf(schema)?.['example'];
}

/** Validates `value` against the schema at `at` (a JSON pointer into the document); the error text when it fails. */
function check(at: string[], value: unknown): string | undefined {
  const validate = ajv.getSchema(`openapi#/${pointer(at)}`);
  if (!validate) return `no schema at ${at.join('/')}`;
  return validate(value) ? undefined : `${at.join('/')}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value).slice(0, 300)}`;
}

/** Every value Swagger UI may show or send for a schema, at every depth: `example`, `examples[]`, `default`. */
function schemaSamples(schema: unknown, at: string[], out: { at: string[]; value: unknown }[]): void {
  if (!schema || typeof schema !== 'object') return;
  const s = schema as Json;
  if (s['example'] !== undefined) out.push({ at, value: s['example'] });
  if (Array.isArray(s['examples'])) for (const value of s['examples']) out.push({ at, value });
  if (s['default'] !== undefined) out.push({ at, value: s['default'] });
  for (const key of ['items', 'additionalProperties', 'not']) schemaSamples(s[key], [...at, key], out);
  for (const key of ['properties', 'patternProperties']) {
    for (const [name, sub] of Object.entries((s[key] ?? {}) as Json)) schemaSamples(sub, [...at, key, name], out);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
    ((s[key] ?? []) as unknown[]).forEach((sub, i) => schemaSamples(sub, [...at, key, String(i)], out));
  }
}

const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
const isJson = (type: string) => /json/.test(type);

describe('examples in openapi.yaml', () => {
  it('when the validator is given a bad médico, then it says no (the checks below can fail)', () => {
    expect(check(['components', 'schemas', 'Medico'], { ...(doc.components.schemas['Medico']!['example'] as Json), id: 'x' })).toBeDefined();
    expect(check(['components', 'schemas', 'MedicoInput'], { nome: 'Ana', crm: '1/SP', especialidade: 'C', email: 'x'.repeat(254) })).toBeDefined();
  });

  it('when every example, examples item and default anywhere in the document is checked against its schema, then each is valid', () => {
    const samples: { at: string[]; value: unknown }[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas)) schemaSamples(schema, ['components', 'schemas', name], samples);
    for (const { path, method, op } of operations) {
      const at = ['paths', path, method];
      (op.parameters ?? []).forEach((param, i) => {
        schemaSamples(param.schema, [...at, 'parameters', String(i), 'schema'], samples);
        if (param.example !== undefined) samples.push({ at: [...at, 'parameters', String(i), 'schema'], value: param.example });
      });
      const bodies: [string[], Record<string, Media> | undefined][] = [
        [[...at, 'requestBody'], op.requestBody?.content],
        ...Object.entries(op.responses).map(([status, r]): [string[], Record<string, Media> | undefined] => [[...at, 'responses', status], r.content]),
      ];
      for (const [where, content] of bodies) {
        for (const [type, media] of Object.entries(content ?? {})) {
          const schemaAt = [...where, 'content', type, 'schema'];
          if (!media.schema?.['$ref']) schemaSamples(media.schema, schemaAt, samples);
          if (media.example !== undefined) samples.push({ at: schemaAt, value: media.example });
          for (const example of Object.values(media.examples ?? {})) samples.push({ at: schemaAt, value: example.value });
        }
      }
    }
    expect(samples.length).toBeGreaterThan(80);
    expect(samples.map((s) => check(s.at, s.value)).filter(Boolean)).toEqual([]);
  });

  it('when any JSON body is shown (request or response, any status), then it has an example of its own that validates against its schema', () => {
    const failures: string[] = [];
    for (const { path, method, op } of operations) {
      const bodies: [string, Record<string, Media> | undefined][] = [
        ['requestBody', op.requestBody?.content],
        ...Object.entries(op.responses).map(([s, r]): [string, Record<string, Media> | undefined] => [`responses/${s}`, r.content]),
      ];
      for (const [where, content] of bodies) {
        for (const [type, media] of Object.entries(content ?? {})) {
          if (!isJson(type)) continue;
          const example = effectiveExample(media);
          const label = `${method.toUpperCase()} ${path} ${where} ${type}`;
          if (example === undefined) failures.push(`${label}: no example (Swagger UI would make one up from the bounds)`);
          else {
            const error = check(['paths', path, method, ...where.split('/'), 'content', type, 'schema'], example);
            if (error) failures.push(`${label}: ${error}`);
          }
        }
      }
    }
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      if (schema['example'] === undefined) failures.push(`components.schemas.${name}: no example`);
    }
    expect(failures).toEqual([]);
  });

  it('when every request body example is sent to a fresh app in order (ids replaced by real ones), then each answers 2xx', async () => {
    // The examples' story starts on 2027-11-08 (their `criadoEm`): the booking on 2027-11-22 is then two weeks ahead.
    const clock = new ManualClock(new Date('2027-11-08T17:32:10Z'));
    const { app, container } = await makeApp({ clock });
    // The first admin, as the first start makes it with `ADMIN_SENHA='uma-senha-longa'` (README): the login example's.
    await container.services.usuarios.create({ nome: 'Administrador', email: 'admin@clinica.local', papel: 'admin', ativo: true, senha: EXEMPLO_SENHA_ADMIN });
    const ids = new Map<string, string>();
    const sent = new Set<string>();

    const withRealIds = (value: unknown): unknown => JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' && ids.has(v) ? ids.get(v) : v));
    const send = async (method: string, template: string, headers: Record<string, string> = {}): Promise<Response> => {
      const body = doc.paths[template]?.[method]?.requestBody?.content['application/json'];
      expect(body, `${method} ${template} takes a JSON body`).toBeDefined();
      const example = effectiveExample(body!);
      expect(example, `${method} ${template} has an example`).toBeDefined();
      const url = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
        const real = ids.get(name === 'id' ? lastIdFor(template) : name);
        expect(real, `${template}: an id for {${name}}`).toBeDefined();
        return real!;
      });
      const res = await request(app)[method as 'post'](url).set(headers).send(withRealIds(example) as object);
      expect(res.status, `${method.toUpperCase()} ${template} with its example: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(200);
      expect(res.status, `${method.toUpperCase()} ${template} with its example: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      const documented = check(['paths', template, method, 'responses', String(res.status), 'content', 'application/json', 'schema'], res.body);
      if (res.status !== 204) expect(documented, `${method} ${template} answer matches the document`).toBeUndefined();
      sent.add(`${method} ${template}`);
      return res;
    };
    /** `{id}` in a path is the id of the resource the path is about. */
    const lastIdFor = (template: string): string =>
      template.startsWith('/medicos') ? EXEMPLO_IDS.medico
        : template.startsWith('/pacientes') ? EXEMPLO_IDS.paciente
          : template.startsWith('/consultas') ? EXEMPLO_IDS.consulta
            : template.startsWith('/usuarios') ? EXEMPLO_IDS.usuario
              : 'desconhecido';

    ids.set(EXEMPLO_IDS.medico, (await send('post', '/medicos')).body.id);
    await send('put', '/medicos/{id}');
    ids.set(EXEMPLO_IDS.paciente, (await send('post', '/pacientes')).body.id);
    await send('put', '/pacientes/{id}');
    await send('post', '/medicos/{id}/bloqueios');
    await send('post', '/feriados');
    await send('post', '/lista-espera');
    ids.set(EXEMPLO_IDS.consulta, (await send('post', '/consultas/agendar')).body.id);
    await send('patch', '/consultas/{id}');
    await send('post', '/consultas/{id}/remarcar');
    await send('post', '/consultas/{id}/cancelar');
    await send('post', '/sistema/tasks/relatorio');
    ids.set(EXEMPLO_IDS.usuario, (await send('post', '/usuarios')).body.id);
    await send('put', '/usuarios/{id}');
    // The first admin signs in and changes its password.
    const login = await send('post', '/auth/login');
    await send('post', '/auth/senha', { Authorization: `Bearer ${login.body.token as string}` });
    await container.queue.onIdle();

    const withBodies = operations.filter(({ op }) => op.requestBody).map(({ path, method }) => `${method} ${path}`);
    expect([...sent].sort()).toEqual(withBodies.sort());
  }, 60_000);
});

describe('openapi.yaml in a YAML 1.1 parser', () => {
  it('when parsed as YAML 1.1, then no value is a date (dates are quoted) and it equals the YAML 1.2 parse', () => {
    const text = readFileSync(OPENAPI_FILE, 'utf8');
    const v11 = parse(text, { version: '1.1' }) as unknown;
    const found: string[] = [];
    const walk = (value: unknown, at: string): void => {
      if (value instanceof Date) found.push(at);
      else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${at}/${i}`));
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, `${at}/${k}`);
    };
    walk(v11, '');
    expect(found).toEqual([]);
    expect(v11).toEqual(parse(text));
    // The check itself: an unquoted date does load as a Date in 1.1.
    expect(parse('d: 2026-12-07', { version: '1.1' }).d).toBeInstanceOf(Date);
  });
});

describe('header parameters', () => {
  it('when the document is read, then Idempotency-Key, Prefer and Last-Event-ID are declared where the code honours them', () => {
    const headersOf = (method: string, path: string) =>
      (doc.paths[path]?.[method]?.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name).sort();
    expect(headersOf('post', '/consultas/agendar')).toEqual(['Idempotency-Key', 'Prefer']);
    expect(headersOf('post', '/consultas/{id}/remarcar')).toEqual(['Prefer']);
    expect(headersOf('get', '/sistema/agenda/stream')).toEqual(['Last-Event-ID']);
    expect(headersOf('get', '/sistema/logs/stream')).toEqual(['Last-Event-ID']);
    // None is pre-filled by Swagger UI: a shared Idempotency-Key or `respond-async` would change every try.
    for (const { op } of operations) {
      for (const param of (op.parameters ?? []).filter((p) => p.in === 'header')) {
        expect(param.example ?? param.schema?.['example'], param.name).toBeUndefined();
      }
    }
  });
});
