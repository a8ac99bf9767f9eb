import type { Request, Response } from 'express';
import type { Config } from '../core/config.js';
import { AppError } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import type { ScheduleState } from '../domain/schedule-state.js';
import type { SseBroker } from '../infra/sse-broker.js';
import type { TaskQueue } from '../infra/task-queue.js';
import type { StoragePort } from '../repositories/port.js';
import { z } from '../schemas/common.js';
import { Status } from '../schemas/operations.schema.js';
import { json, problem } from './responses.js';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health', example: { status: 'ok' } });

export interface SystemDeps {
  config: Config;
  /** Whichever driver runs: the controller asks, it never looks at files or connections itself. */
  storage: Pick<StoragePort, 'healthy' | 'counts'>;
  queue: TaskQueue;
  schedule: ScheduleState;
  agendaBroker: SseBroker;
  logsBroker: SseBroker;
}

/** Liveness, storage health and the numbers an operator looks at. */
export class SystemController {
  constructor(private readonly deps: SystemDeps) {}

  health = async (_req: Request, res: Response): Promise<void> => {
    // A probe that cannot even ask (the database's connection refused) is as unhealthy as a "no".
    const healthy = await this.deps.storage.healthy().catch(() => false);
    if (!healthy) throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'O armazenamento de dados não aceita gravações no momento.');
    res.json({ status: 'ok' });
  };

  status = async (_req: Request, res: Response): Promise<void> => {
    const { config, storage, queue, schedule, agendaBroker, logsBroker } = this.deps;
    const registros = await storage.counts();
    const memory = process.memoryUsage();
    res.json({
      status: 'ok',
      uptimeSegundos: Math.round(process.uptime()),
      plataforma: { platform: process.platform, arch: process.arch, node: process.version, pid: process.pid },
      memoria: { rssBytes: memory.rss, heapUsadoBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externoBytes: memory.external },
      fila: { pendentes: queue.pendingCount, porStatus: queue.counts() },
      cache: { registros, horariosReservados: schedule.reservedCount },
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
