/**
 * Which front-desk actions a consulta allows now. The rules are the server's own status table
 * (`src/domain/consulta-status.ts`, pure), imported rather than copied, so buttons and API never disagree.
 */
import { REMARCACAO, momentoAtende, transicaoPermitida } from '../../../src/domain/consulta-status.js';
import type { StatusConsulta } from '../../../src/schemas/consulta.schema.js';

export type ConsultaAction = 'confirmar' | 'checkin' | 'iniciar' | 'concluir' | 'faltou' | 'cancelar' | 'remarcar';

/** Button labels (pt-BR), in the order the dialog shows them. */
export const ACTION_LABELS: Record<ConsultaAction, string> = {
  confirmar: 'Confirmar',
  checkin: 'Check-in',
  iniciar: 'Iniciar atendimento',
  concluir: 'Concluir',
  faltou: 'Faltou',
  cancelar: 'Cancelar consulta',
  remarcar: 'Remarcar',
};

const DESTINO = { confirmar: 'confirmada', checkin: 'aguardando', iniciar: 'em_atendimento', concluir: 'realizada', faltou: 'faltou', cancelar: 'cancelada' } as const;

/** For each action, whether the status table allows it for a consulta in `status` starting at `inicio`, at `nowMs`. */
export function allowedActions(status: StatusConsulta, inicio: string, nowMs: number): Record<ConsultaAction, boolean> {
  const inicioMs = Date.parse(inicio);
  const out = {} as Record<ConsultaAction, boolean>;
  for (const [action, destino] of Object.entries(DESTINO) as Array<[Exclude<ConsultaAction, 'remarcar'>, (typeof DESTINO)[keyof typeof DESTINO]]>) {
    out[action] = transicaoPermitida(status, destino, inicioMs, nowMs);
  }
  out.remarcar = REMARCACAO.de.includes(status) && momentoAtende(REMARCACAO.quando, inicioMs, nowMs);
  return out;
}

/** pt-BR names of the statuses. */
export const STATUS_ROTULOS: Record<StatusConsulta, string> = {
  agendada: 'Agendada',
  confirmada: 'Confirmada',
  aguardando: 'Aguardando (check-in feito)',
  em_atendimento: 'Em atendimento',
  realizada: 'Realizada',
  faltou: 'Faltou',
  cancelada: 'Cancelada',
};
