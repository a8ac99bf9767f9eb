import { formatInstant } from '../core/time.js';
import type { Entity } from '../infra/storage/store.js';
import { STATUS_CONSULTA, type Consulta, type StatusConsulta } from '../schemas/consulta.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { Paciente } from '../schemas/paciente.schema.js';
import { datesBetween, nextDate, slotsForDate, startOfDate } from './slots.js';

export interface ReportParams {
  de: string;
  ate: string;
  medicoId?: string | undefined;
  clinicName: string;
  timezone: string;
  geradoEm: string;
}

export interface ReportData {
  params: ReportParams;
  totals: Record<StatusConsulta, number>;
  total: number;
  medicos: { nome: string; especialidade: string; consultas: number; horarios: number; ocupados: number }[];
  rows: { quando: string; medico: string; paciente: string; status: StatusConsulta }[];
}

/** `2026-12-01T09:00:00-03:00` → `01/12/2026 09:00`. */
export const brDateTime = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)} ${iso.slice(11, 16)}`;
export const brDate = (date: string) => `${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(0, 4)}`;

/**
 * Everything the report shows, computed from the records: totals by status, per médico the consultas and the
 * occupancy of its slots in the period (slots holding an agendada, realizada or faltou consulta), and the rows.
 */
export function buildReportData(collections: Map<string, Map<string, Entity>>, params: ReportParams): ReportData {
  const zone = params.timezone;
  const medicos = collections.get('medicos') as Map<string, Medico>;
  const pacientes = collections.get('pacientes') as Map<string, Paciente>;
  const from = startOfDate(params.de, zone);
  const to = startOfDate(nextDate(params.ate), zone);
  // Each start parsed once, then sorted by it.
  const dated = [...(collections.get('consultas') as Map<string, Consulta>).values()]
    .filter((c) => !params.medicoId || c.medicoId === params.medicoId)
    .map((c) => ({ c, at: Date.parse(c.inicio) }))
    .filter(({ at }) => at >= from && at < to)
    .sort((a, b) => a.at - b.at);
  const consultas = dated.map(({ c }) => c);

  const totals = Object.fromEntries(STATUS_CONSULTA.map((s) => [s, 0])) as Record<StatusConsulta, number>;
  const perMedico = new Map<string, { consultas: number; ocupados: number }>();
  for (const c of consultas) {
    totals[c.status]++;
    const m = perMedico.get(c.medicoId) ?? { consultas: 0, ocupados: 0 };
    m.consultas++;
    if (c.status !== 'cancelada') m.ocupados++;
    perMedico.set(c.medicoId, m);
  }
  const dates = datesBetween(params.de, params.ate);
  const medicoRows = [...medicos.values()]
    .filter((m) => (params.medicoId ? m.id === params.medicoId : m.ativo || perMedico.has(m.id)))
    .sort((a, b) => a.nome.localeCompare(b.nome, 'pt-BR'))
    .map((m) => ({
      nome: m.nome,
      especialidade: m.especialidade,
      consultas: perMedico.get(m.id)?.consultas ?? 0,
      horarios: dates.reduce((n, d) => n + slotsForDate(m, d, zone).length, 0),
      ocupados: perMedico.get(m.id)?.ocupados ?? 0,
    }));
  const rows = dated.map(({ c, at }) => ({
    quando: brDateTime(formatInstant(at, zone)),
    medico: medicos.get(c.medicoId)?.nome ?? '(médico excluído)',
    paciente: pacientes.get(c.pacienteId)?.nome ?? '(paciente excluído)',
    status: c.status,
  }));
  return { params, totals, total: consultas.length, medicos: medicoRows, rows };
}
