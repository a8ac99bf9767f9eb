import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import request, { type Response } from 'supertest';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, generateOpenApiYaml } from '../../scripts/generate-openapi.js';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

describe('openapi.yaml', () => {
  it('when compared with what the route specs generate, then it is identical (run `npm run openapi`)', async () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(await generateOpenApiYaml());
  });

  it('when served, then /openapi.yaml, /openapi.json and /docs answer', async () => {
    const { app } = await makeApp();
    const yaml = await request(app).get('/openapi.yaml').expect(200);
    expect(yaml.headers['content-type']).toMatch(/yaml/);
    expect(parse(yaml.text)).toEqual(parse(readFileSync(OPENAPI_FILE, 'utf8')));
    const json = await request(app).get('/openapi.json').expect(200);
    expect(json.body.openapi).toBe('3.1.0');
    const docs = await request(app).get('/docs/').expect(200);
    expect(docs.text).toContain('swagger-ui');
  });

  it('when every documented operation is called, then each response matches the document', async () => {
    const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi');
    const seen = new Set<string>();

    const check = (method: string, template: string, res: Response): Response => {
      const operation = doc.paths[template]?.[method];
      expect(operation, `${method} ${template} is documented`).toBeDefined();
      const documented = operation!.responses[String(res.status)];
      expect(documented, `${method} ${template} documents ${res.status}`).toBeDefined();
      const type = String(res.headers['content-type'] ?? '').split(';')[0]!;
      if (documented!.content) {
        expect(Object.keys(documented!.content), `${method} ${template} ${res.status} content type`).toContain(type);
        const pointer = ['paths', template, method, 'responses', String(res.status), 'content', type, 'schema']
          .map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1'))
          .join('/');
        const validate = ajv.getSchema(`openapi#/${pointer}`)!;
        expect(validate(res.body), `${method} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      } else {
        expect(res.text ?? '').toBe('');
      }
      seen.add(`${method} ${template} ${res.status}`);
      return res;
    };

    // The validator itself must be able to say no.
    const medicoSchema = ajv.getSchema('openapi#/paths/~1medicos~1{id}/get/responses/200/content/application~1json/schema')!;
    expect(medicoSchema({ id: 'x' })).toBe(false);

    const { app } = await makeApp();
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [base, body, other] of [
      ['/medicos', medicoBody, { crm: '7777/BA' }],
      ['/pacientes', pacienteBody, { cpf: '11144477735' }],
    ] as const) {
      const one = `${base}/{id}`;
      const created = check('post', base, await request(app).post(base).send(body()));
      const id = created.body.id as string;
      check('post', base, await request(app).post(base).send(body()));
      check('post', base, await request(app).post(base).send({}));
      check('post', base, await request(app).post(base).set('Content-Type', 'text/plain').send('x'));
      check('post', base, await request(app).post(base).send(body({ nome: 'x'.repeat(200_000) })));
      check('get', base, await request(app).get(base));
      check('get', base, await request(app).get(base).query({ limit: 0 }));
      check('get', one, await request(app).get(`${base}/${id}`));
      check('get', one, await request(app).get(`${base}/${missing}`));
      check('put', one, await request(app).put(`${base}/${id}`).send(body()));
      check('put', one, await request(app).put(`${base}/${missing}`).send(body()));
      check('put', one, await request(app).put(`${base}/${id}`).send({}));
      const second = await request(app).post(base).send(body(other));
      check('put', one, await request(app).put(`${base}/${second.body.id}`).send(body()));
      check('delete', one, await request(app).delete(`${base}/${id}`));
      check('delete', one, await request(app).delete(`${base}/${id}`));
    }
    check('get', '/health', await request(app).get('/health'));

    // Every documented operation answered at least one 2xx that matched its schema.
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        expect([...seen].some((s) => s.startsWith(`${method} ${template} 2`)), `${method} ${template} exercised`).toBe(true);
      }
    }
  });
});
