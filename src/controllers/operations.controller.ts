import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import type { TaskQueue } from '../infra/task-queue.js';
import { z } from '../schemas/common.js';
import { BackupInfo, NomeParams, RelatorioInput, ReportInfo, RestoreResult } from '../schemas/operations.schema.js';
import { Task } from '../schemas/task.schema.js';
import type { BackupService } from '../services/backup.service.js';
import type { ReportService } from '../services/report.service.js';
import { BAD_REQUEST, NOT_FOUND, UNAVAILABLE, WRITE_ERRORS, json, problem, sendAccepted } from './responses.js';

/** Backups, restores and reports: the operator's side of the API. */
export class OperationsController {
  constructor(
    private readonly deps: { backups: BackupService; reports: ReportService; queue: TaskQueue },
  ) {}

  backup = async (_req: Request, res: Response): Promise<void> => {
    const submitted = await this.deps.queue.submit('backup', { automatic: false });
    // Every process of the database must find the task before the client is told where it is; the answer shows
    // the record as accepted (the poll tells the rest).
    const task = { ...submitted.task };
    await submitted.visible();
    sendAccepted(res, task);
  };

  relatorio = async (req: Request, res: Response): Promise<void> => {
    const params = await this.deps.reports.resolve(req.body as RelatorioInput);
    const submitted = await this.deps.queue.submit('gerar_relatorio', params);
    const task = { ...submitted.task };
    await submitted.visible();
    sendAccepted(res, task);
  };

  listBackups = async (_req: Request, res: Response): Promise<void> => {
    res.json(await this.deps.backups.list());
  };

  downloadBackup = async (req: Request, res: Response): Promise<void> => {
    const file = await this.deps.backups.pathOf(req.params['nome'] as string);
    const nome = req.params['nome'] as string;
    res.type(nome.endsWith('.enc') ? 'application/octet-stream' : 'application/zip').attachment(nome);
    await new Promise<void>((resolve, reject) => res.sendFile(file, (error) => (error ? reject(error) : resolve())));
  };

  restaurar = async (req: Request, res: Response): Promise<void> => {
    const file = await this.deps.backups.pathOf(req.params['nome'] as string);
    res.json(await this.deps.backups.restore(file));
  };

  listReports = async (_req: Request, res: Response): Promise<void> => {
    res.json(await this.deps.reports.list());
  };

  downloadReport = async (req: Request, res: Response): Promise<void> => {
    const file = await this.deps.reports.pathOf(req.params['nome'] as string);
    res.type('application/pdf');
    await new Promise<void>((resolve, reject) => res.sendFile(file, (error) => (error ? reject(error) : resolve())));
  };

  routes(): RouteSpec[] {
    const accepted = json('Aceita: a tarefa entrou na fila', Task, { Location: 'URL da tarefa' });
    return [
      {
        method: 'post', path: '/sistema/tasks/backup', permission: 'sistema', tag: 'Tarefas', summary: 'Enfileira um backup',
        description:
          'Se já houver um backup pendente (ainda não iniciado, manual ou automático; com PostgreSQL, em qualquer processo do servidor), devolve essa mesma tarefa (202, mesmo id) em vez de ' +
          'enfileirar outra. Cada tipo de tarefa tem seu próprio limite de tarefas pendentes, então pedidos em massa de backup não atrasam agendamentos.',
        responses: { 202: accepted, 503: problem('Fila cheia ou servidor encerrando') },
        handler: this.backup,
      },
      {
        method: 'post', path: '/sistema/tasks/relatorio', permission: 'relatorios', tag: 'Tarefas', summary: 'Enfileira um relatório PDF', body: RelatorioInput, optionalBody: true,
        description:
          'Um relatório pendente (ainda não iniciado) com o mesmo período (`de`, `ate`) e o mesmo `medicoId` é devolvido (202, mesmo id) em vez de ' +
          'enfileirar outro; relatórios diferentes esperam até 10 de cada vez (além disso, 503). São mantidos os REPORTS_KEEP (padrão 50) mais novos.',
        responses: { 202: accepted, ...WRITE_ERRORS, 422: problem('Médico inexistente') },
        handler: this.relatorio,
      },
      {
        method: 'get', path: '/sistema/backups', permission: 'sistema', tag: 'Backups', summary: 'Backups, mais novos primeiro',
        responses: { 200: json('Backups', z.array(BackupInfo)) },
        handler: this.listBackups,
      },
      {
        method: 'get', path: '/sistema/backups/:nome', permission: 'sistema', tag: 'Backups', summary: 'Baixa um backup (ZIP ou ZIP cifrado)', params: NomeParams,
        description:
          'Um `.zip` vem como `application/zip`; um `.zip.enc` como `application/octet-stream`, no formato: `AGMDBKP` (7 bytes), versão 1 (1 byte), ' +
          'nonce aleatório (12 bytes), o ZIP cifrado com AES-256-GCM e a etiqueta de autenticação (16 bytes); o cabeçalho de 20 bytes é o AAD.',
        responses: { 200: { description: 'O arquivo', contentType: 'application/zip' }, 400: BAD_REQUEST, 404: NOT_FOUND },
        handler: this.downloadBackup,
      },
      {
        method: 'post', path: '/sistema/backups/:nome/restaurar', permission: 'sistema', tag: 'Backups', summary: 'Restaura um backup', params: NomeParams,
        description:
          'Confere manifesto, somas SHA-256, cada registro contra seu esquema, caminhos e tamanhos; faz um backup de segurança dos dados atuais; ' +
          'troca os dados de forma atômica; avisa os clientes SSE com `resync`. Um arquivo inválido dá 422 e nada muda. ' +
          'Um `.zip.enc` é decifrado com a BACKUP_KEY e só é lido depois que a etiqueta GCM confere: chave errada, byte alterado ou servidor sem ' +
          'chave dão 422. As entradas são descompactadas em fluxo, com limite de 256 MiB de dados contado durante a descompactação (bombas de ' +
          'descompressão são recusadas sem esgotar a memória). Uma restauração por vez: outra em andamento dá 409.',
        responses: {
          200: json('Restaurado', RestoreResult), 400: BAD_REQUEST, 404: NOT_FOUND, 409: problem('Outra restauração em andamento'),
          422: problem('Backup inválido (inclui chave errada, arquivo alterado ou backup criptografado sem BACKUP_KEY)'), 503: UNAVAILABLE,
        },
        handler: this.restaurar,
      },
      {
        method: 'get', path: '/sistema/relatorios', permission: 'relatorios', tag: 'Relatórios', summary: 'Relatórios gerados, mais novos primeiro',
        responses: { 200: json('Relatórios', z.array(ReportInfo)) },
        handler: this.listReports,
      },
      {
        method: 'get', path: '/sistema/relatorios/:nome', permission: 'relatorios', tag: 'Relatórios', summary: 'Baixa um relatório (PDF)', params: NomeParams,
        responses: { 200: { description: 'O PDF', contentType: 'application/pdf' }, 404: NOT_FOUND, 400: BAD_REQUEST },
        handler: this.downloadReport,
      },
    ];
  }
}
