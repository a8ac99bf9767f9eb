import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Container } from './composition.js';
import { AgendaController } from './controllers/agenda.controller.js';
import { ConsultaController } from './controllers/consulta.controller.js';
import { medicoController } from './controllers/medico.controller.js';
import { LogsController } from './controllers/logs.controller.js';
import { OperationsController } from './controllers/operations.controller.js';
import { TaskController } from './controllers/task.controller.js';
import { pacienteController } from './controllers/paciente.controller.js';
import { SystemController } from './controllers/system.controller.js';
import { errorHandler, requireJsonBody, routeNotFound } from './http/problem.js';
import { requestContext } from './http/request-context.js';
import { mount, type RouteSpec } from './http/route.js';
import { buildOpenApiDocument, toYaml } from './openapi/document.js';

export const API_INFO = {
  title: 'Agenda Médica API',
  version: '1.0.0',
  description:
    'Agendamento de consultas para clínicas. Erros seguem a RFC 9457 (application/problem+json) com textos em pt-BR.',
};

/** Every operation of the API, in the order the document lists them. */
export function apiRoutes(container: Container): RouteSpec[] {
  return [
    ...medicoController(container.services.medicos).routes(),
    ...pacienteController(container.services.pacientes).routes(),
    ...new ConsultaController(container.services.booking, container.services.consultas).routes(),
    ...new AgendaController(container.services.agenda, container.agendaBroker).routes(),
    ...new TaskController(container.queue).routes(),
    ...new OperationsController({ backups: container.services.backups, reports: container.services.reports, queue: container.queue }).routes(),
    ...new LogsController({ buffer: container.logBuffer, broker: container.logsBroker, timezone: container.config.clinicTz }).routes(),
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

  app.get('/openapi.json', (_req, res) => void res.json(document));
  app.get('/openapi.yaml', (_req, res) => void res.type('application/yaml').send(yaml));
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Agenda Médica — API' }));

  app.use(requireJsonBody);
  app.use(express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] }));

  const router = express.Router();
  mount(router, routes);
  app.use(router);

  app.use(routeNotFound);
  app.use(errorHandler(logger));
  return app;
}
