import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/app.js';
import { makeApp } from '../helpers/app.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const SOME_ID = '00000000-0000-4000-8000-000000000000';

/** The methods the route specs take at a URL (HEAD wherever GET is), found by matching each spec's path. */
function allowedAt(routes: { method: string; path: string }[], url: string): string[] {
  const allowed = new Set<string>();
  for (const route of routes) {
    const pattern = new RegExp(`^${route.path.replace(/:\w+/g, '[^/]+')}/?$`, 'i');
    if (!pattern.test(url)) continue;
    allowed.add(route.method.toUpperCase());
    if (route.method === 'get') allowed.add('HEAD');
  }
  return METHODS.filter((m) => allowed.has(m));
}

const call = (app: Parameters<typeof request>[0], method: string, url: string) =>
  request(app)[method.toLowerCase() as 'get'](url);

describe('methods a path does not take', () => {
  it('when DELETE /medicos, PUT /health or HEAD /auth/login is called, then 405 problem in pt-BR with Allow', async () => {
    const { app } = await makeApp();
    for (const [method, url, allow] of [
      ['DELETE', '/medicos', 'GET, HEAD, POST'],
      ['PUT', '/health', 'GET, HEAD'],
      ['PATCH', '/sistema/tasks/relatorio', 'GET, HEAD, POST'],
      ['HEAD', '/auth/login', 'POST'],
      // `/consultas/agendar` is also `/consultas/:id` (GET, PATCH).
      ['PUT', '/consultas/agendar', 'GET, HEAD, POST, PATCH'],
      ['POST', `/medicos/${SOME_ID}`, 'GET, HEAD, PUT, DELETE'],
      // Two specs match: GET /sistema/tasks/:id and POST /sistema/tasks/backup.
      ['DELETE', '/sistema/tasks/backup', 'GET, HEAD, POST'],
      ['PUT', '/openapi.json', 'GET, HEAD'],
      ['DELETE', '/medicos/?q=x', 'GET, HEAD, POST'],
    ] as const) {
      const res = await call(app, method, url);
      expect(res.status, `${method} ${url}`).toBe(405);
      expect(res.headers['allow'], `${method} ${url}`).toBe(allow);
      if (method === 'HEAD') continue;
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        type: '/problemas/metodo-nao-permitido',
        title: 'Método não permitido',
        status: 405,
        instance: url.split('?')[0],
      });
      expect(res.body.detail).toBe(`${url.split('?')[0]} não aceita o método ${method}; use ${allow}.`);
    }
  });

  it('when any route path is called with a method no spec there takes, then 405 with the Allow the specs give', async () => {
    const { app, container } = await makeApp();
    const routes = apiRoutes(container);
    const urls = new Set(routes.map((r) => r.path.replace(/:\w+/g, SOME_ID)));
    let refused = 0;
    for (const url of urls) {
      const allowed = allowedAt(routes, url);
      for (const method of METHODS.filter((m) => !allowed.includes(m))) {
        const res = await call(app, method, url);
        expect(res.status, `${method} ${url}`).toBe(405);
        expect(res.headers['allow'], `${method} ${url}`).toBe(allowed.join(', '));
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });

  it('when a method the path takes is called, or the path is unknown, then no 405', async () => {
    const { app } = await makeApp();
    await request(app).head('/health').expect(200);
    await request(app).head('/medicos').expect(200);
    await request(app).get('/medicos').expect(200);
    // A known method on an unknown id is still the route's own 404.
    expect((await request(app).get(`/medicos/${SOME_ID}`)).body.type).toBe('/problemas/nao-encontrado');
    for (const [method, url] of [['GET', '/nada'], ['DELETE', '/nada'], ['PUT', '/medicos/x/y'], ['POST', '/sistema'], ['DELETE', '/openapi.json/x']]) {
      const res = await call(app, method!, url!);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.headers['allow']).toBeUndefined();
      expect(res.body.type).toBe('/problemas/rota-inexistente');
    }
    // OPTIONS stays Express's (and CORS's): it lists the methods instead of refusing.
    const options = await request(app).options('/medicos');
    expect(options.status).toBeLessThan(300);
    expect(options.headers['allow']).toBe('GET, HEAD, POST');
  });

  it('when the caller has no session, then a wrong method is still 405 (it reveals only what /openapi.yaml publishes)', async () => {
    const { app } = await makeApp({ signedIn: false });
    const res = await request(app).delete('/medicos');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD, POST');
    // The methods it takes still need a session.
    expect((await request(app).get('/medicos')).status).toBe(401);
  });
});
