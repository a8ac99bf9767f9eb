import type { Request, Response } from 'express';
import { currentActor } from '../core/context.js';
import { notFound } from '../core/errors.js';
import { mayReadTask } from '../core/permissions.js';
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
    // One the caller may not see answers as one that does not exist: its id says nothing either way.
    if (!task || !mayReadTask(currentActor(), task)) throw notFound('Tarefa', 'a');
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
          'aparece como `falhou`, com o problema `/problemas/processo-encerrado`. Tarefas de backup e de relatório só o admin vê; ' +
          'um médico vê só as de agendamento e remarcação do próprio médico. As outras respondem 404, como uma que não existe.',
        responses: { 200: json('A tarefa', Task), 400: BAD_REQUEST, 404: NOT_FOUND },
        handler: this.get,
      },
    ];
  }
}
