import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Permission } from '../core/permissions.js';
import type { RouteSpec } from '../http/route.js';
import type { Page } from '../repositories/port.js';
import { IdParams } from '../schemas/common.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, empty, json, problem } from './responses.js';

/** What a register (médicos, pacientes) offers: the same five operations. */
export interface CrudService<T extends { id: string }, Input, Query> {
  list(query: Query): Promise<Page<T>>;
  get(id: string): Promise<T>;
  create(input: Input): Promise<T>;
  replace(id: string, input: Input): Promise<T>;
  remove(id: string): Promise<void>;
}

export interface CrudLabels {
  tag: string;
  /** Collection path, `/medicos`. */
  base: string;
  /** "médico", "paciente": used in summaries. */
  noun: string;
  schemas: { item: z.ZodType; input: z.ZodType; list: z.ZodType; query: z.ZodObject };
  conflict: string;
  deleteBlocked: string;
  /** Who may read, write and delete (policy table names). */
  permissions: { read: Permission; write: Permission; remove: Permission };
}

/** HTTP ⇄ a register service: list, create, read, replace, delete. */
export class CrudController<T extends { id: string }, Input, Query> {
  constructor(
    private readonly service: CrudService<T, Input, Query>,
    private readonly labels: CrudLabels,
  ) {}

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.list(req.query as Query));
  };

  get = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.get(req.params['id'] as string));
  };

  create = async (req: Request, res: Response): Promise<void> => {
    const created = await this.service.create(req.body as Input);
    res.status(201).location(`${this.labels.base}/${created.id}`).json(created);
  };

  replace = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.replace(req.params['id'] as string, req.body as Input));
  };

  remove = async (req: Request, res: Response): Promise<void> => {
    await this.service.remove(req.params['id'] as string);
    res.status(204).end();
  };

  routes(): RouteSpec[] {
    const { tag, base, noun, schemas, conflict, deleteBlocked, permissions } = this.labels;
    const one = `${base}/:id`;
    return [
      {
        method: 'get', path: base, permission: permissions.read, tag, summary: `Lista ${noun}s`, query: schemas.query,
        responses: { 200: json(`Página de ${noun}s, por nome`, schemas.list), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'post', path: base, permission: permissions.write, tag, summary: `Cadastra um ${noun}`, body: schemas.input,
        responses: { 201: json('Criado', schemas.item, { Location: 'URL do novo registro' }), ...WRITE_ERRORS, 409: problem(conflict) },
        handler: this.create,
      },
      {
        method: 'get', path: one, permission: permissions.read, tag, summary: `Obtém um ${noun}`, params: IdParams,
        responses: { 200: json(`O ${noun}`, schemas.item), 404: NOT_FOUND },
        handler: this.get,
      },
      {
        method: 'put', path: one, permission: permissions.write, tag, summary: `Substitui os campos editáveis de um ${noun}`, params: IdParams, body: schemas.input,
        responses: { 200: json('Atualizado', schemas.item), ...WRITE_ERRORS, 404: NOT_FOUND, 409: problem(conflict) },
        handler: this.replace,
      },
      {
        method: 'delete', path: one, permission: permissions.remove, tag, summary: `Exclui um ${noun}`, params: IdParams,
        description: `Recusado (409) quando alguma consulta, de qualquer status e data, se refere ao ${noun}.`,
        responses: { 204: empty('Excluído'), 404: NOT_FOUND, 409: problem(deleteBlocked), 503: UNAVAILABLE },
        handler: this.remove,
      },
    ];
  }
}
