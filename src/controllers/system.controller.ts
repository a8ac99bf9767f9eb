import type { Request, Response } from 'express';
import type { Config } from '../core/config.js';
import { AppError } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import type { ScheduleState } from '../infra/schedule-state.js';
import type { SseBroker } from '../infra/sse-broker.js';
import type { Store } from '../infra/storage/json/store.js';
import type { TaskQueue } from '../infra/task-queue.js';
import { z } from '../schemas/common.js';
import { Status } from '../schemas/operations.schema.js';
import { json, problem } from './responses.js';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health', example: { status: 'ok' } });

export interface SystemDeps {
  config: Config;
  store: Store;
  queue: TaskQueue;
  schedule: ScheduleState;
  agendaBroker: SseBroker;
  logsBroker: SseBroker;
}

/** Liveness, storage health and the numbers an operator looks at. */
export class SystemController {
  constructor(private readonly deps: SystemDeps) {}

  health = async (_req: Request, res: Response): Promise<void> => {
    if (!(await this.deps.store.writable())) {
      throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'O diretório de dados não pode ser gravado.');
    }
    res.json({ status: 'ok' });
  };

  status = (_req: Request, res: Response): void => {
    const { config, store, queue, schedule, agendaBroker, logsBroker } = this.deps;
    const memory = process.memoryUsage();
    res.json({
      status: 'ok',
      uptimeSegundos: Math.round(process.uptime()),
      plataforma: { platform: process.platform, arch: process.arch, node: process.version, pid: process.pid },
      memoria: { rssBytes: memory.rss, heapUsadoBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externoBytes: memory.external },
      fila: { pendentes: queue.pendingCount, porStatus: queue.counts() },
      cache: { registros: Object.fromEntries(store.collections.map((c) => [c, store.count(c)])), horariosReservados: schedule.reservedCount },
      sse: {
        agendaClientes: agendaBroker.clientCount,
        logsClientes: logsBroker.clientCount,
        clientesDescartados: agendaBroker.droppedCount + logsBroker.droppedCount,
      },
      diretorios: { dados: config.dataDir, backups: config.backupDir, relatorios: config.reportsDir },
      backups: { criptografados: config.backupKey !== undefined, manter: config.backupKeep, intervaloMin: config.backupIntervalMin },
    });
  };

  routes(): RouteSpec[] {
    return [
      {
        method: 'get', path: '/health', permission: 'publico', tag: 'Sistema', summary: 'Saúde do serviço',
        responses: { 200: json('Pronto para atender', Health), 503: problem('Armazenamento inutilizável') },
        handler: this.health,
      },
      {
        method: 'get', path: '/sistema/status', permission: 'sistema', tag: 'Sistema', summary: 'Estado do servidor',
        description: 'Tempo no ar, plataforma, memória, fila, cache, clientes SSE, diretórios e se os backups são criptografados.',
        responses: { 200: json('Estado', Status) },
        handler: this.status,
      },
    ];
  }
}
