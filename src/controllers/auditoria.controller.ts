import type { Request, Response } from 'express';
import type { RouteSpec } from '../http/route.js';
import type { AuditTrail } from '../repositories/audit-trail.js';
import { ANO_FORA_MESSAGE, ANO_MAX, ANO_MIN, Instant, Pagination, RefId, listOf, yearInRange, z } from '../schemas/common.js';
import { BAD_REQUEST, json } from './responses.js';
import { EXEMPLO_AUDITORIA, EXEMPLO_VERIFICACAO } from '../schemas/examples.js';

/** One audit entry as the API shows it (with its place in the hash chain). */
export const AuditEntrySchema = z
  .object({
    id: z.uuid(),
    em: Instant,
    usuarioId: z.string().nullable(),
    papel: z.string().nullable(),
    acao: z.string().meta({ example: 'paciente.ler' }),
    recurso: z.string(),
    recursoId: z.string().optional(),
    pacienteIds: z.array(z.string()).optional(),
    status: z.number().int(),
    ip: z.string(),
    requestId: z.string(),
  })
  .meta({ id: 'EntradaAuditoria', example: EXEMPLO_AUDITORIA });

const instantOrDate = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'Use um instante ISO 8601 ou uma data AAAA-MM-DD.')
  // The year as written, as every other route reads it (`yearInRange`); Date.parse's other shapes by their UTC year.
  .refine((s) => {
    if (/^\d{4}-/.test(s)) return yearInRange(s);
    const year = new Date(s).getUTCFullYear();
    return year >= ANO_MIN && year <= ANO_MAX;
  }, ANO_FORA_MESSAGE)
  .transform((s) => new Date(s));

export const AuditoriaQuery = z.object({
  usuarioId: RefId.max(64).optional(),
  pacienteId: RefId.max(64).optional(),
  acao: RefId.max(64).optional(),
  de: instantOrDate.optional().meta({ description: 'Desde (inclusive)', format: 'date-time' }),
  ate: instantOrDate.optional().meta({ description: 'Até (inclusive)', format: 'date-time' }),
  ...Pagination,
});
type AuditoriaQuery = z.output<typeof AuditoriaQuery>;

const Verificacao = z
  .object({
    integra: z.boolean(),
    entradas: z.number().int(),
    primeiraQuebra: z.object({ arquivo: z.string(), linha: z.number().int() }).optional(),
  })
  .meta({ id: 'VerificacaoAuditoria', example: EXEMPLO_VERIFICACAO });

/** `/sistema/auditoria`: the trail (admin), and the check of its hash chain. */
export class AuditoriaController {
  constructor(private readonly log: Pick<AuditTrail, 'query' | 'verify'>) {}

  list = async (req: Request, res: Response): Promise<void> => {
    res.json(await this.log.query(req.query as unknown as AuditoriaQuery));
  };

  verify = async (_req: Request, res: Response): Promise<void> => {
    res.json(await this.log.verify());
  };

  routes(): RouteSpec[] {
    const tag = 'Auditoria';
    return [
      {
        method: 'get', path: '/sistema/auditoria', permission: 'auditoria', tag, summary: 'Trilha de auditoria, mais novas primeiro', query: AuditoriaQuery,
        description: 'Quem fez o quê e quando: toda escrita e toda leitura de dados de pacientes. Filtros combinam entre si.',
        responses: { 200: json('Página da trilha', listOf(AuditEntrySchema, 'AuditoriaList')), 400: BAD_REQUEST },
        handler: this.list,
      },
      {
        method: 'get', path: '/sistema/auditoria/verificacao', permission: 'auditoria', tag, summary: 'Confere a cadeia de hashes da trilha',
        description:
          'Percorre toda a trilha, da entrada mais antiga à mais nova, recalculando o SHA-256 de cada entrada; aponta a primeira quebra (entrada alterada, apagada ou fora de ordem). ' +
          'Com STORAGE=json, `primeiraQuebra.arquivo` é o arquivo mensal e `linha` a linha nele (a partir de 1); com STORAGE=postgres, `arquivo` é a tabela `auditoria` e `linha` o `seq` da entrada (números crescentes, não necessariamente contíguos).',
        responses: { 200: json('Resultado', Verificacao) },
        handler: this.verify,
      },
    ];
  }
}
