import { DateOnly, Instant, RefId, SearchText, z } from './common.js';
import { EXEMPLO_BACKUP, EXEMPLO_LOG, EXEMPLO_RELATORIO, EXEMPLO_RELATORIO_INPUT, EXEMPLO_RESTAURACAO, EXEMPLO_STATUS } from './examples.js';

export const RelatorioInput = z
  .object({
    de: DateOnly.optional().meta({ description: 'Primeiro dia (padrão: início do mês corrente)' }),
    ate: DateOnly.optional().meta({ description: 'Último dia (padrão: fim do mês de `de`); no máximo 366 dias' }),
    medicoId: RefId.optional(),
  })
  .meta({ id: 'RelatorioInput', example: EXEMPLO_RELATORIO_INPUT });
export type RelatorioInput = z.output<typeof RelatorioInput>;

export const BackupInfo = z
  .object({
    nome: z.string().meta({
      description:
        '`backup-YYYYMMDD-HHmmss[-auto].zip`, mais `.enc` quando criptografado. O carimbo é a hora local da criação ou, se esse ' +
        'segundo já estiver em uso (ou houver backup com carimbo posterior), um segundo após o backup mais novo: nomes únicos, ' +
        'em ordem de criação.',
    }),
    tamanhoBytes: z.number().int(),
    criadoEm: Instant,
    automatico: z.boolean(),
    criptografado: z.boolean().meta({
      description: 'Arquivo `.zip.enc`: o ZIP inteiro cifrado com AES-256-GCM (autenticado) pela BACKUP_KEY; restaurá-lo exige a mesma chave.',
    }),
  })
  .meta({ id: 'BackupInfo', example: EXEMPLO_BACKUP });

export const ReportInfo = z
  .object({ nome: z.string(), tamanhoBytes: z.number().int(), criadoEm: Instant })
  .meta({ id: 'ReportInfo', example: EXEMPLO_RELATORIO });

export const NomeParams = z.object({ nome: z.string().max(200) });

export const RestoreResult = z
  .object({ restaurado: z.string(), backupDeSeguranca: z.string(), contagens: z.record(z.string(), z.number().int()) })
  .meta({ id: 'RestoreResult', example: EXEMPLO_RESTAURACAO });

export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export const LogsQuery = z.object({
  nivel: z.enum(Object.keys(LOG_LEVELS) as [keyof typeof LOG_LEVELS]).optional().meta({ description: 'Nível mínimo' }),
  desde: z.iso.datetime({ offset: true }).optional().meta({ description: 'Só entradas a partir deste instante' }),
  q: SearchText.optional().meta({ description: 'Texto contido na mensagem' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type LogsQuery = z.output<typeof LogsQuery>;

export const LogEntry = z
  .object({ hora: Instant, nivel: z.string(), msg: z.string() })
  .catchall(z.unknown())
  .meta({ id: 'LogEntry', example: EXEMPLO_LOG });

export const LogList = z.object({ items: z.array(LogEntry) }).meta({ id: 'LogList', example: { items: [EXEMPLO_LOG] } });

export const Status = z
  .object({
    status: z.literal('ok'),
    uptimeSegundos: z.number(),
    plataforma: z.object({ platform: z.string(), arch: z.string(), node: z.string(), pid: z.number().int() }),
    memoria: z.object({ rssBytes: z.number(), heapUsadoBytes: z.number(), heapTotalBytes: z.number(), externoBytes: z.number() }),
    fila: z.object({ pendentes: z.number().int(), porStatus: z.record(z.string(), z.number().int()) }),
    cache: z.object({ registros: z.record(z.string(), z.number().int()), horariosReservados: z.number().int() }),
    sse: z.object({ agendaClientes: z.number().int(), logsClientes: z.number().int(), clientesDescartados: z.number().int() }),
    diretorios: z.object({ dados: z.string(), backups: z.string(), relatorios: z.string() }),
    backups: z
      .object({
        criptografados: z.boolean().meta({ description: 'true quando BACKUP_KEY está configurada; false: os backups são gravados em claro' }),
        manter: z.number().int().meta({ description: 'BACKUP_KEEP: quantos backups são mantidos' }),
        intervaloMin: z.number().meta({ description: 'BACKUP_INTERVAL_MIN (0: sem backup automático)' }),
      })
      .meta({ description: 'Política de backups' }),
  })
  .meta({ id: 'Status', example: EXEMPLO_STATUS });
