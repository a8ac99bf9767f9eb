import type { Request, Response } from 'express';
import { AppError } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import type { Store } from '../infra/storage/store.js';
import { z } from '../schemas/common.js';
import { problem } from './responses.js';

const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

/** Liveness and storage health. */
export class SystemController {
  constructor(private readonly deps: { store: Store }) {}

  health = async (_req: Request, res: Response): Promise<void> => {
    if (!(await this.deps.store.writable())) {
      throw new AppError('ARMAZENAMENTO_INDISPONIVEL', 'O diretório de dados não pode ser gravado.');
    }
    res.json({ status: 'ok' });
  };

  routes(): RouteSpec[] {
    return [
      {
        method: 'get', path: '/health', tag: 'Sistema', summary: 'Saúde do serviço',
        responses: { 200: { description: 'Pronto para atender', schema: Health }, 503: problem('Armazenamento inutilizável') },
        handler: this.health,
      },
    ];
  }
}
