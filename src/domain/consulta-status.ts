import { AppError } from '../core/errors.js';
import type { Permission } from '../core/permissions.js';
import type { StatusConsulta } from '../schemas/consulta.schema.js';

/**
 * The consulta's life, as the contract's "Front desk (v2)" draws it: ONE table of allowed transitions, each
 * with the moment (relative to the consulta's start) when it may happen. Every status change in the code goes
 * through {@link assertTransicao}; anything the table does not allow is 409 `/problemas/status-invalido`,
 * including a transition asked at the wrong moment (cancelling after the start, check-in too early, closing a
 * consulta that has not begun): one rule, one answer.
 *
 *     agendada ──confirmar──▶ confirmada                         (before start)
 *     agendada | confirmada ──cancelar──▶ cancelada              (before start)
 *     agendada | confirmada ──checkin──▶ aguardando              (from 2 h before start on)
 *     agendada | confirmada | aguardando ──▶ em_atendimento      (after start)
 *     agendada | confirmada | aguardando | em_atendimento ──▶ realizada   (after start)
 *     agendada | confirmada ──▶ faltou                           (after start)
 */

/** When a transition may happen, relative to the consulta's `inicio`. */
export type Momento = 'antes_do_inicio' | 'desde_2h_antes' | 'apos_inicio';

/** Check-in opens this long before the start (and stays open after it: a late patient still checks in). */
export const CHECKIN_ANTECEDENCIA_MS = 2 * 60 * 60 * 1000;

/** The route a transition is asked through. */
export type Via = 'PATCH /consultas/{id}' | 'POST /consultas/{id}/cancelar' | 'POST /consultas/{id}/checkin';

/** A status a consulta can be moved to (`agendada` is only where consultas start). */
export type StatusDestino = Exclude<StatusConsulta, 'agendada'>;

export interface Transicao {
  de: readonly StatusConsulta[];
  quando: Momento;
  via: Via;
  /** Permission the acting user needs for it (the route's gate is the broader of the two). */
  permission: Permission;
}

/** The table. Each destination is reached by one rule, so the destination is the key. */
export const TRANSICOES: Readonly<Record<StatusDestino, Transicao>> = {
  confirmada: { de: ['agendada'], quando: 'antes_do_inicio', via: 'PATCH /consultas/{id}', permission: 'consultas:escrever' },
  cancelada: { de: ['agendada', 'confirmada'], quando: 'antes_do_inicio', via: 'POST /consultas/{id}/cancelar', permission: 'consultas:escrever' },
  aguardando: { de: ['agendada', 'confirmada'], quando: 'desde_2h_antes', via: 'POST /consultas/{id}/checkin', permission: 'consultas:escrever' },
  em_atendimento: { de: ['agendada', 'confirmada', 'aguardando'], quando: 'apos_inicio', via: 'PATCH /consultas/{id}', permission: 'consultas:status' },
  realizada: {
    de: ['agendada', 'confirmada', 'aguardando', 'em_atendimento'], quando: 'apos_inicio', via: 'PATCH /consultas/{id}', permission: 'consultas:status',
  },
  faltou: { de: ['agendada', 'confirmada'], quando: 'apos_inicio', via: 'PATCH /consultas/{id}', permission: 'consultas:status' },
};

/** Remarcar keeps the status but is governed the same way: only a consulta still ahead, not yet checked in. */
export const REMARCACAO: Pick<Transicao, 'de' | 'quando'> = { de: ['agendada', 'confirmada'], quando: 'antes_do_inicio' };

/** Statuses of consultas still to happen: what a paciente cannot be double-booked against. */
export const STATUS_PENDENTES: readonly StatusConsulta[] = ['agendada', 'confirmada', 'aguardando', 'em_atendimento'];

/** True when the moment `quando` holds at `nowMs` for a consulta starting at `inicioMs`. */
export function momentoAtende(quando: Momento, inicioMs: number, nowMs: number): boolean {
  switch (quando) {
    case 'antes_do_inicio':
      return nowMs < inicioMs;
    case 'desde_2h_antes':
      return nowMs >= inicioMs - CHECKIN_ANTECEDENCIA_MS;
    case 'apos_inicio':
      return nowMs >= inicioMs;
  }
}

/** True when the table allows `de → para` at `nowMs`. */
export function transicaoPermitida(de: StatusConsulta, para: StatusDestino, inicioMs: number, nowMs: number): boolean {
  const t = TRANSICOES[para];
  return t.de.includes(de) && momentoAtende(t.quando, inicioMs, nowMs);
}

/** The rule for `de → para`, or 409 `/problemas/status-invalido` saying why not. */
export function assertTransicao(de: StatusConsulta, para: StatusDestino, inicioMs: number, nowMs: number): Transicao {
  const t = TRANSICOES[para];
  if (!t.de.includes(de)) {
    throw new AppError('STATUS_INVALIDO', `A consulta está ${de}; não pode passar para ${para} (só a partir de: ${t.de.join(', ')}).`);
  }
  if (!momentoAtende(t.quando, inicioMs, nowMs)) throw new AppError('STATUS_INVALIDO', foraDoMomento(para, t.quando));
  return t;
}

/** 409 unless the consulta may be moved to another time now. */
export function assertRemarcavel(de: StatusConsulta, inicioMs: number, nowMs: number): void {
  if (!REMARCACAO.de.includes(de)) {
    throw new AppError('STATUS_INVALIDO', `A consulta está ${de}; só consultas agendadas ou confirmadas podem ser remarcadas.`);
  }
  if (!momentoAtende(REMARCACAO.quando, inicioMs, nowMs)) {
    throw new AppError('STATUS_INVALIDO', 'A consulta já começou e não pode mais ser remarcada; registre a falta (faltou) e agende outra.');
  }
}

function foraDoMomento(para: StatusDestino, quando: Momento): string {
  if (para === 'cancelada') return 'A consulta já começou e não pode mais ser cancelada; registre a falta (status faltou).';
  if (quando === 'antes_do_inicio') return `A consulta já começou e não pode mais passar para ${para}.`;
  if (quando === 'desde_2h_antes') return 'O check-in só abre 2 horas antes do início da consulta.';
  return `A consulta ainda não começou; só depois do início ela pode passar para ${para}.`;
}

/** What a slot-holding check needs of a consulta. */
interface SlotHolderLike {
  status: StatusConsulta;
  encaixe?: boolean | undefined;
}

/**
 * True when the consulta holds its slot: every status but `cancelada` keeps a slot `ocupado`. Encaixes never
 * hold a slot (they squeeze in over or between slots and never change a slot's state), so they are left out.
 */
export function holdsSlot(c: SlotHolderLike): boolean {
  return c.status !== 'cancelada' && c.encaixe !== true;
}

/** True when the consulta is still to happen (its paciente cannot be booked over it). */
export function isPendente(status: StatusConsulta): boolean {
  return STATUS_PENDENTES.includes(status);
}
