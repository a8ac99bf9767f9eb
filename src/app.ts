import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { Container } from './composition.js';
import { AgendaController } from './controllers/agenda.controller.js';
import { BloqueioController } from './controllers/bloqueio.controller.js';
import { ConsultaController } from './controllers/consulta.controller.js';
import { medicoController } from './controllers/medico.controller.js';
import { LogsController } from './controllers/logs.controller.js';
import { OperationsController } from './controllers/operations.controller.js';
import { TaskController } from './controllers/task.controller.js';
import { pacienteController } from './controllers/paciente.controller.js';
import { SystemController } from './controllers/system.controller.js';
import { errorHandler, requireJsonBody, routeNotFound } from './http/problem.js';
import { requestContext } from './http/request-context.js';
import { mount, refuseOtherMethods, type RouteSpec } from './http/route.js';
import { authenticate, originGuard, writeRateLimit } from './http/auth.js';
import { AuthController } from './controllers/auth.controller.js';
import { UsuarioController } from './controllers/usuario.controller.js';
import { ListaEsperaController } from './controllers/lista-espera.controller.js';
import { AuditoriaController } from './controllers/auditoria.controller.js';
import { buildOpenApiDocument, toYaml } from './openapi/document.js';
import { webApp } from './http/web-app.js';

export const API_INFO = {
  title: 'Agenda Médica API',
  version: '1.0.0',
  description:
    'Agendamento de consultas para clínicas. Erros seguem a RFC 9457 (application/problem+json) com textos em pt-BR. ' +
    'Entre com POST /auth/login e use o botão Authorize (token Bearer) ou o cookie `sessao`. ' +
    'Um método que o caminho não aceita recebe 405 `/problemas/metodo-nao-permitido` com o cabeçalho Allow.',
  license: { name: 'Proprietária — uso da clínica', identifier: 'LicenseRef-Proprietary' },
};

/** Every operation of the API, in the order the document lists them. */
export function apiRoutes(container: Container): RouteSpec[] {
  const { config } = container;
  return [
    ...new AuthController(container.services.auth, { cookieSecure: config.cookieSecure, sessionTtlMin: config.sessionTtlMin }).routes(),
    ...new UsuarioController(container.services.usuarios).routes(),
    ...new AuditoriaController(container.auditLog).routes(),
    ...medicoController(container.services.medicos).routes(),
    ...pacienteController(container.services.pacientes).routes(),
    ...new ConsultaController(container.services.booking, container.services.consultas).routes(),
    ...new AgendaController(container.services.agenda, container.agendaBroker, container.services.auth).routes(),
    ...new BloqueioController(container.services.bloqueios, container.services.feriados).routes(),
    ...new ListaEsperaController(container.services.listaEspera, container.services.horariosLivres).routes(),
    ...new TaskController(container.queue).routes(),
    ...new OperationsController({ backups: container.services.backups, reports: container.services.reports, queue: container.queue }).routes(),
    ...new LogsController({ buffer: container.logBuffer, broker: container.logsBroker, timezone: container.config.clinicTz, sessions: container.services.auth }).routes(),
    ...new SystemController(container).routes(),
  ];
}

/** Builds the Express app over a container. It never listens: `server.ts` does. */
export function createApp(container: Container): Express {
  const { config, logger } = container;
  const routes = apiRoutes(container);
  const document = buildOpenApiDocument(routes, API_INFO);
  const yaml = toYaml(document);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(logger));
  app.use(securityHeaders());
  app.use(corsFor(config.corsOrigins));

  const specFiles: Record<string, RequestHandler> = {
    '/openapi.json': (_req, res) => void res.json(document),
    '/openapi.yaml': (_req, res) => void res.type('application/yaml').send(yaml),
  };
  for (const [path, handler] of Object.entries(specFiles)) app.get(path, handler);
  refuseOtherMethods(app, Object.keys(specFiles).map((path) => ({ method: 'get' as const, path })));
  // The reception web app (`/` and `/assets/*`): public files, so before authentication; API paths never collide.
  app.use(webApp());
  refuseOtherMethods(app, [{ method: 'get', path: '/' }]);
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Agenda Médica — API' }));

  app.use(noStore);
  app.use(authenticate(container.services.auth));
  app.use(originGuard(config.corsOrigins));
  app.use(requireJsonBody);
  app.use(express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] }));

  const router = express.Router();
  mount(router, routes, [writeRateLimit(config.writeRateLimit, container.clock, container.limits.windows)]);
  app.use(router);

  app.use(routeNotFound);
  app.use(errorHandler(logger));
  return app;
}

/**
 * Security headers on every answer (helmet): nosniff, a strict CSP for the web app and Swagger UI (own
 * scripts only), no referrer across origins, frames refused. HSTS only makes sense behind TLS, which the
 * server does not terminate itself, so it is left to the proxy.
 */
function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        // helmet adds it by default; a clinic's LAN often serves plain HTTP (TLS is the proxy's), and browsers then
        // rewrite every asset request to https:// and the web app stays blank (loopback alone is spared).
        upgradeInsecureRequests: null,
      },
    },
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/**
 * CORS for the exact origins of `CORS_ORIGINS` (with credentials, so a web app elsewhere can use the session
 * cookie); every other origin gets no CORS header at all. `Vary: Origin` always, so caches keep answers apart.
 */
function corsFor(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  const handler = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'Authorization', 'Idempotency-Key', 'Prefer', 'Last-Event-ID', 'X-Request-Id'],
    exposedHeaders: ['Location', 'Retry-After', 'X-Request-Id', 'Preference-Applied'],
    maxAge: 600,
  });
  return (req, res, next) => {
    res.vary('Origin');
    handler(req, res, next);
  };
}

/** API answers carry patient data and sessions: no cache may keep them. */
const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
