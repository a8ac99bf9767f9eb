import { formatInstant } from '../core/time.js';
import type { Entity } from '../repositories/port.js';
import type { Bloqueio } from '../schemas/bloqueio.schema.js';
import type { Consulta, StatusConsulta } from '../schemas/consulta.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { Paciente } from '../schemas/paciente.schema.js';
import { ESPECIALIDADE_MAX, NOME_MAX } from '../schemas/common.js';
import { datesBetween, nextDate, slotsForDate, startOfDate, type SlotTime } from '../domain/slots.js';

export interface ReportParams {
  de: string;
  ate: string;
  medicoId?: string | undefined;
  clinicName: string;
  timezone: string;
  geradoEm: string;
}

/** A date of the period on which the clinic is closed (a holiday that is not a ponto facultativo). */
export interface ClosedDate {
  data: string;
  nome: string;
}

/** Report figures of one médico in the period. */
export interface MedicoReport {
  nome: string;
  especialidade: string;
  /** Every consulta in the period, any status. */
  consultas: number;
  /** Slots offered: working-hour slots, less those on closed dates or inside the médico's bloqueios. */
  horarios: number;
  /** Offered slots that at least one consulta holding its slot overlaps (counted once, encaixes included). */
  ocupados: number;
  /** Consultas that hold their slot but overlap no offered slot (hours changed, a bloqueio or holiday later). */
  foraDosHorarios: number;
  /** `ocupados / horarios` in percent, never above 100; null without offered slots. */
  ocupacao: number | null;
  faltas: number;
  /** Consultas that already started when the report was made and are not cancelada: the no-show base. */
  iniciadas: number;
  /** `faltas / iniciadas` in percent; null when nothing started yet. */
  taxaFaltas: number | null;
}

export interface ReportData {
  params: ReportParams;
  totals: Record<string, number>;
  total: number;
  medicos: MedicoReport[];
  fechados: ClosedDate[];
  rows: { quando: string; medico: string; paciente: string; status: StatusConsulta }[];
}

/** Every status but `cancelada` keeps its slot taken: agendada, confirmada, aguardando, em_atendimento, realizada, faltou. */
export const holdsSlot = (status: StatusConsulta): boolean => status !== 'cancelada';

/** `2026-12-01T09:00:00-03:00` → `01/12/2026 09:00`. */
export const brDateTime = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)} ${iso.slice(11, 16)}`;
export const brDate = (date: string) => `${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(0, 4)}`;

/**
 * A name as printed: composed characters (NFC: a name typed as letters + combining marks prints the same), and no
 * longer than the API takes it (`max`: {@link NOME_MAX} for names, {@link ESPECIALIDADE_MAX} for a specialty), cut
 * with "…". Records restored from a hand-made backup (or written before a limit) may hold longer text, and the PDF's
 * line breaking of one long unbroken word grows faster than its length: a name of 10,000 letters took the report 28 s,
 * and 100,000 never finished. Counted in code points, as the cut, so a pair of surrogates is never split.
 */
function shown(text: string, max = NOME_MAX): string {
  const composed = text.normalize('NFC');
  const points = Array.from(composed);
  return points.length <= max ? composed : `${points.slice(0, max - 1).join('')}…`;
}

/** The period's bounds in ms since the epoch: from the start of `de` to the start of the day after `ate`, in the clinic's zone. */
export function periodOf(params: Pick<ReportParams, 'de' | 'ate' | 'timezone'>): { fromMs: number; toMs: number } {
  return { fromMs: startOfDate(params.de, params.timezone), toMs: startOfDate(nextDate(params.ate), params.timezone) };
}

/**
 * Everything the report shows, computed from the records: totals by status, per médico its consultas, the
 * occupancy of its offered slots, the consultas outside them and its no-show rate, and the rows.
 */
export function buildReportData(collections: Map<string, Map<string, Entity>>, params: ReportParams, fechados: ClosedDate[] = []): ReportData {
  const zone = params.timezone;
  const medicos = collections.get('medicos') as Map<string, Medico>;
  const pacientes = collections.get('pacientes') as Map<string, Paciente>;
  const bloqueios = [...((collections.get('bloqueios') as Map<string, Bloqueio> | undefined)?.values() ?? [])];
  const { fromMs: from, toMs: to } = periodOf(params);
  const now = Date.parse(params.geradoEm);
  // Each start parsed once, then sorted by it.
  const dated = [...(collections.get('consultas') as Map<string, Consulta>).values()]
    .filter((c) => !params.medicoId || c.medicoId === params.medicoId)
    .map((c) => ({ c, at: Date.parse(c.inicio), end: Date.parse(c.fim) }))
    .filter(({ at }) => at >= from && at < to)
    .sort((a, b) => a.at - b.at);

  const totals: Record<string, number> = {};
  const byMedico = new Map<string, typeof dated>();
  for (const d of dated) {
    totals[d.c.status] = (totals[d.c.status] ?? 0) + 1;
    const list = byMedico.get(d.c.medicoId) ?? [];
    list.push(d);
    byMedico.set(d.c.medicoId, list);
  }
  const closed = new Set(fechados.map((f) => f.data));
  const dates = datesBetween(params.de, params.ate).filter((d) => !closed.has(d));
  const medicoRows = [...medicos.values()]
    .filter((m) => (params.medicoId ? m.id === params.medicoId : m.ativo || byMedico.has(m.id)))
    .sort((a, b) => a.nome.localeCompare(b.nome, 'pt-BR'))
    .map((m): MedicoReport => {
      const blocks = bloqueios.filter((b) => b.medicoId === m.id).map((b) => ({ inicioMs: Date.parse(b.inicio), fimMs: Date.parse(b.fim) }));
      const offered = dates.flatMap((d) => slotsForDate(m, d, zone)).filter((s) => !blocks.some((b) => overlaps(b, s)));
      const own = byMedico.get(m.id) ?? [];
      const holding = own.filter(({ c }) => holdsSlot(c.status));
      const { ocupados, fora } = occupancy(offered, holding.map(({ at, end }) => ({ inicioMs: at, fimMs: end })));
      const iniciadas = holding.filter(({ at }) => at <= now).length;
      const faltas = own.filter(({ c }) => c.status === 'faltou').length;
      return {
        nome: shown(m.nome),
        especialidade: shown(m.especialidade, ESPECIALIDADE_MAX),
        consultas: own.length,
        horarios: offered.length,
        ocupados,
        foraDosHorarios: fora,
        ocupacao: offered.length === 0 ? null : Math.min(100, (100 * ocupados) / offered.length),
        faltas,
        iniciadas,
        taxaFaltas: iniciadas === 0 ? null : (100 * faltas) / iniciadas,
      };
    });
  const rows = dated.map(({ c, at }) => ({
    quando: brDateTime(formatInstant(at, zone)),
    medico: shown(medicos.get(c.medicoId)?.nome ?? '(médico excluído)'),
    paciente: shown(pacientes.get(c.pacienteId)?.nome ?? '(paciente excluído)'),
    status: c.status,
  }));
  return { params, totals, total: dated.length, medicos: medicoRows, fechados: fechados.map((f) => ({ ...f, nome: shown(f.nome) })), rows };
}

const overlaps = (a: SlotTime, b: SlotTime) => a.inicioMs < b.fimMs && b.inicioMs < a.fimMs;

/**
 * How many offered slots the consultas overlap (each slot counted once, however many consultas share it, as
 * an encaixe does), and how many consultas overlap none. Both lists are sorted by start; slots never overlap.
 */
function occupancy(slots: SlotTime[], consultas: SlotTime[]): { ocupados: number; fora: number } {
  const held = new Uint8Array(slots.length);
  let fora = 0;
  for (const c of consultas) {
    // First slot that ends after the consulta starts (binary search), then every slot starting before it ends.
    let lo = 0;
    let hi = slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (slots[mid]!.fimMs <= c.inicioMs) lo = mid + 1;
      else hi = mid;
    }
    let any = false;
    for (let i = lo; i < slots.length && slots[i]!.inicioMs < c.fimMs; i++) {
      held[i] = 1;
      any = true;
    }
    if (!any) fora++;
  }
  return { ocupados: held.reduce((n, h) => n + h, 0), fora };
}
