import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/app.js';
import type { Papel } from '../../src/core/context.js';
import { PERMISSIONS } from '../../src/core/permissions.js';
import { makeApp, medicoBody, signIn } from '../helpers/app.js';
import { listen } from '../helpers/sse.js';

const A: Papel[] = ['admin'];
const AR: Papel[] = ['admin', 'recepcao'];
const ARM: Papel[] = ['admin', 'recepcao', 'medico'];

/**
 * The contract's role table ("Access control (v2)"), written out route by route, independently of the policy
 * module it checks. A route missing here fails the test: every new route must be placed in the table.
 */
const CONTRACT: Record<string, Papel[] | 'publico'> = {
  'POST /auth/login': 'publico',
  'POST /auth/logout': ARM,
  'GET /auth/sessao': ARM,
  'POST /auth/senha': ARM,
  'GET /usuarios': A,
  'POST /usuarios': A,
  'GET /usuarios/:id': A,
  'PUT /usuarios/:id': A,
  'DELETE /usuarios/:id': A,
  'GET /sistema/auditoria': A,
  'GET /sistema/auditoria/verificacao': A,
  'GET /medicos': ARM,
  'POST /medicos': AR,
  'GET /medicos/:id': ARM,
  'PUT /medicos/:id': AR,
  'DELETE /medicos/:id': AR,
  'GET /pacientes': ARM,
  'POST /pacientes': AR,
  'GET /pacientes/:id': ARM,
  'PUT /pacientes/:id': AR,
  'DELETE /pacientes/:id': A,
  'GET /pacientes/:id/dados': A,
  'POST /pacientes/:id/anonimizar': A,
  'POST /consultas/agendar': ARM,
  'GET /consultas': ARM,
  'GET /consultas/:id': ARM,
  'PATCH /consultas/:id': ARM,
  'POST /consultas/:id/cancelar': ARM,
  'POST /consultas/:id/remarcar': ARM,
  'POST /consultas/:id/checkin': ARM,
  'GET /medicos/:id/agenda': ARM,
  'GET /medicos/:id/bloqueios': ARM,
  'POST /medicos/:id/bloqueios': ARM,
  'DELETE /bloqueios/:id': ARM,
  'GET /feriados': ARM,
  'POST /feriados': AR,
  'DELETE /feriados/:id': AR,
  'GET /sistema/agenda/stream': ARM,
  'POST /lista-espera': ARM,
  'GET /lista-espera': ARM,
  'DELETE /lista-espera/:id': ARM,
  'GET /horarios-livres': ARM,
  'GET /sistema/tasks': A,
  'GET /sistema/tasks/:id': ARM,
  'POST /sistema/tasks/backup': A,
  'POST /sistema/tasks/relatorio': A,
  'GET /sistema/backups': A,
  'GET /sistema/backups/:nome': A,
  'POST /sistema/backups/:nome/restaurar': A,
  'GET /sistema/relatorios': A,
  'GET /sistema/relatorios/:nome': A,
  'GET /sistema/logs': A,
  'GET /sistema/logs/stream': A,
  'GET /health': 'publico',
  'GET /sistema/status': A,
};

/** Status and problem type, read from the head of the answer (event streams never end by themselves). */
function call(url: string, method: string, token: string | undefined): Promise<{ status: number; type?: string }> {
  return new Promise((resolve, reject) => {
    const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
    const req = httpRequest(
      url,
      {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        const status = res.statusCode!;
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status });
          return;
        }
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          let type: string | undefined;
          try {
            type = (JSON.parse(text) as { type?: string }).type;
          } catch {
            type = undefined;
          }
          resolve({ status, type });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('route × role matrix', () => {
  it('when the route table is compared with the contract, then every route is in it with a known permission, and nothing is mounted around it', async () => {
    const { container, rawApp } = await makeApp();
    const routes = apiRoutes(container);
    const keys = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(new Set(keys)).toEqual(new Set(Object.keys(CONTRACT)));
    for (const route of routes) {
      expect([...PERMISSIONS, 'publico'], `${route.method} ${route.path}`).toContain(route.permission);
      expect(route.permission === 'publico', `${route.method} ${route.path} public`).toBe(CONTRACT[`${route.method.toUpperCase()} ${route.path}`] === 'publico');
    }
    // Every route Express knows, outside the table, is one the contract leaves public (the spec files).
    const mounted: string[] = [];
    const walk = (stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) => {
      for (const layer of stack) {
        if (layer.route) for (const m of Object.keys(layer.route.methods)) mounted.push(`${m.toUpperCase()} ${layer.route.path}`);
        else if (layer.handle?.stack) walk(layer.handle.stack as never);
      }
    };
    walk((rawApp as unknown as { router: { stack: never[] } }).router.stack);
    expect(mounted.filter((k) => !keys.includes(k)).sort()).toEqual(['GET /', 'GET /openapi.json', 'GET /openapi.yaml']);
  });

  it('when every route is called by anonymous, admin, recepcao and medico, then 401/403 come exactly where the contract says', async () => {
    const { container, rawApp } = await makeApp();
    const medico = await container.services.medicos.create(medicoBody() as never);
    const server = await listen(rawApp);
    const failures: string[] = [];
    try {
      for (const route of apiRoutes(container)) {
        const key = `${route.method.toUpperCase()} ${route.path}`;
        const allowed = CONTRACT[key]!;
        // A médico user asks about its own médico (so "own only" passes the gate); other ids are simply unknown.
        const path = route.path.replace(':id', medico.id).replace(':nome', 'inexistente.zip');
        for (const papel of [undefined, 'admin', 'recepcao', 'medico'] as const) {
          // A fresh session per call: logout and password change end sessions.
          const token = papel ? (await signIn(container, papel, papel === 'medico' ? medico.id : undefined)).token : undefined;
          const { status, type } = await call(`${server.url}${path}`, route.method.toUpperCase(), token);
          const who = papel ?? 'anônimo';
          if (allowed === 'publico') {
            if (status === 401 || status === 403) failures.push(`${key} ${who}: ${status} (público)`);
          } else if (!papel) {
            if (status !== 401 || type !== '/problemas/nao-autenticado') failures.push(`${key} ${who}: ${status} ${type}, esperado 401`);
          } else if (allowed.includes(papel)) {
            if (status === 401 || status === 403) failures.push(`${key} ${who}: ${status} ${type}, esperado acesso`);
          } else if (status !== 403 || type !== '/problemas/acesso-negado') {
            failures.push(`${key} ${who}: ${status} ${type}, esperado 403`);
          }
        }
      }
    } finally {
      await server.close();
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
