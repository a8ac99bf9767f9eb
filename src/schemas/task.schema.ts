import { Instant, z } from './common.js';
import { EXEMPLO_TASK } from './examples.js';

/** The task types of the queue and a task's statuses, as the contract names them. */
export const TASK_TIPOS = ['agendar_consulta', 'remarcar_consulta', 'backup', 'gerar_relatorio'] as const;
export type TaskTipo = (typeof TASK_TIPOS)[number];
export const TASK_STATUS = ['pendente', 'executando', 'concluida', 'falhou'] as const;
export type TaskStatus = (typeof TASK_STATUS)[number];

export const Task = z
  .object({
    id: z.uuid(),
    tipo: z.enum(TASK_TIPOS),
    medicoId: z.string().optional().meta({ description: 'O médico da consulta (tarefas `agendar_consulta` e `remarcar_consulta`)' }),
    status: z.enum(TASK_STATUS),
    progresso: z.number().int().min(0).max(100),
    criadaEm: Instant,
    iniciadaEm: Instant.optional(),
    concluidaEm: Instant.optional(),
    resultado: z.unknown().optional(),
    erro: z.object({ type: z.string(), title: z.string(), status: z.number().int(), detail: z.string() }).optional(),
  })
  .meta({ id: 'Task', example: EXEMPLO_TASK });

/** A task's id: a UUID, so a malformed one answers 400 and never reaches a query. */
export const TaskIdParams = z.object({ id: z.uuid('Id de tarefa inválido.').meta({ description: 'Id da tarefa (UUID)' }) });

export const ListTasksQuery = z.object({
  tipo: z.enum(TASK_TIPOS).optional(),
  status: z.enum(TASK_STATUS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
export type ListTasksQuery = z.output<typeof ListTasksQuery>;

export const TaskList = z.object({ items: z.array(Task) }).meta({ id: 'TaskList', example: { items: [EXEMPLO_TASK] } });

export const AgendaStreamQuery = z.object({
  // A UUID, so a typo answers 400 at once instead of a stream that never carries an event.
  medicoId: z.uuid('Id de médico inválido.').optional().meta({ description: 'Só eventos deste médico (inexistente → 404)' }),
  lastEventId: z.string().max(32).optional().meta({ description: 'Alternativa ao cabeçalho Last-Event-ID' }),
});
