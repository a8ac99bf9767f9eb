import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import { IdParams } from '../schemas/common.js';
import { ListUsuariosQuery, Usuario, UsuarioInput, UsuarioList, UsuarioUpdate } from '../schemas/usuario.schema.js';
import type { UsuarioService } from '../services/usuario.service.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, empty, json, problem } from './responses.js';

/** `/usuarios`: the people who sign in (admin only). */
export class UsuarioController {
  constructor(private readonly service: UsuarioService) {}

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.list(req.query as unknown as ListUsuariosQuery));
  };

  get = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.get(req.params['id'] as string));
  };

  create = async (req: Request, res: Response): Promise<void> => {
    const created = await this.service.create(req.body as UsuarioInput);
    res.status(201).location(`/usuarios/${created.id}`).json(created);
  };

  replace = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.service.replace(req.params['id'] as string, req.body as UsuarioUpdate));
  };

  remove = async (req: Request, res: Response): Promise<void> => {
    await this.service.remove(req.params['id'] as string);
    res.status(204).end();
  };

  routes(): RouteSpec[] {
    const tag = 'Usuários';
    const one = '/usuarios/:id';
    const conflict = problem('E-mail já cadastrado, ou a mudança deixaria a clínica sem administrador ativo');
    return [
      {
        method: 'get', path: '/usuarios', permission: 'usuarios', tag, summary: 'Lista usuários', query: ListUsuariosQuery,
        responses: { 200: json('Página de usuários, por nome', UsuarioList), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'post', path: '/usuarios', permission: 'usuarios', tag, summary: 'Cria um usuário', body: UsuarioInput,
        description: '`senha` só na entrada (mínimo 10 caracteres); é guardada com scrypt e nunca devolvida. `medicoId` é obrigatório para o papel `medico`.',
        responses: { 201: json('Criado', Usuario, { Location: 'URL do usuário' }), ...WRITE_ERRORS, 409: conflict, 422: problem('Médico inexistente') },
        handler: this.create,
      },
      {
        method: 'get', path: one, permission: 'usuarios', tag, summary: 'Obtém um usuário', params: IdParams,
        responses: { 200: json('O usuário', Usuario), 404: NOT_FOUND },
        handler: this.get,
      },
      {
        method: 'put', path: one, permission: 'usuarios', tag, summary: 'Substitui um usuário', params: IdParams, body: UsuarioUpdate,
        description: 'Sem `senha`, a senha fica. Trocar senha, papel ou médico, ou desativar, encerra as sessões do usuário.',
        responses: { 200: json('Atualizado', Usuario), ...WRITE_ERRORS, 404: NOT_FOUND, 409: conflict, 422: problem('Médico inexistente') },
        handler: this.replace,
      },
      {
        method: 'delete', path: one, permission: 'usuarios', tag, summary: 'Exclui um usuário (e encerra suas sessões)', params: IdParams,
        responses: { 204: empty('Excluído'), 404: NOT_FOUND, 409: conflict, 503: UNAVAILABLE },
        handler: this.remove,
      },
    ];
  }
}
