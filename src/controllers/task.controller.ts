import type { Request, Response } from 'express';
import { notFound } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import type { TaskQueue } from '../infra/task-queue.js';
import { ListTasksQuery, Task, TaskIdParams, TaskList } from '../schemas/task.schema.js';
import { BAD_REQUEST, NOT_FOUND, json } from './responses.js';

/** The task queue as seen from outside: recent tasks and one task, of every process of the storage. */
export class TaskController {
  constructor(private readonly queue: TaskQueue) {}

  list = async (req: Request, res: Response): Promise<void> => {
    res.json({ items: await this.queue.recent(req.query as unknown as ListTasksQuery) });
  };

  get = async (req: Request, res: Response): Promise<void> => {
    const task = await this.queue.find(req.params['id'] as string);
    if (!task) throw notFound('Tarefa');
    res.json(task);
  };

  routes(): RouteSpec[] {
    const tag = 'Tarefas';
    return [
      {
        method: 'get', path: '/sistema/tasks', permission: 'sistema', tag, summary: 'Tarefas recentes (histórico limitado), mais novas primeiro', query: ListTasksQuery,
        description: 'Com PostgreSQL, as tarefas de todos os processos do servidor; com arquivos JSON, as do processo que responde.',
        responses: { 200: json('Tarefas', TaskList), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'get', path: '/sistema/tasks/:id', permission: 'tarefas:ler', tag, summary: 'Uma tarefa', params: TaskIdParams,
        description:
          'Com PostgreSQL, qualquer processo do servidor responde por tarefas de todos. Uma tarefa cujo processo terminou antes de concluí-la ' +
          'aparece como `falhou`, com o problema `/problemas/processo-encerrado`.',
        responses: { 200: json('A tarefa', Task), 400: BAD_REQUEST, 404: NOT_FOUND },
        handler: this.get,
      },
    ];
  }
}
