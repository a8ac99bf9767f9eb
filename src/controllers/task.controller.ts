import type { Request, Response } from 'express';
import { notFound } from '../core/errors.js';
import type { RouteSpec } from '../http/route.js';
import type { TaskQueue } from '../infra/task-queue.js';
import { IdParams } from '../schemas/common.js';
import { ListTasksQuery, Task, TaskList } from '../schemas/task.schema.js';
import { BAD_REQUEST, NOT_FOUND, json } from './responses.js';

/** The task queue as seen from outside: recent tasks and one task. */
export class TaskController {
  constructor(private readonly queue: TaskQueue) {}

  list = (req: Request, res: Response): void => {
    res.json({ items: this.queue.list(req.query as unknown as ListTasksQuery) });
  };

  get = (req: Request, res: Response): void => {
    const task = this.queue.get(req.params['id'] as string);
    if (!task) throw notFound('Tarefa');
    res.json(task);
  };

  routes(): RouteSpec[] {
    const tag = 'Tarefas';
    return [
      {
        method: 'get', path: '/sistema/tasks', permission: 'sistema', tag, summary: 'Tarefas recentes (histórico limitado), mais novas primeiro', query: ListTasksQuery,
        responses: { 200: json('Tarefas', TaskList), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'get', path: '/sistema/tasks/:id', permission: 'tarefas:ler', tag, summary: 'Uma tarefa', params: IdParams,
        responses: { 200: json('A tarefa', Task), 404: NOT_FOUND },
        handler: this.get,
      },
    ];
  }
}
