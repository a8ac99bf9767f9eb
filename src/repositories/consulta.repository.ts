import type { Store, Tx } from '../infra/storage/store.js';
import type { Consulta, StatusConsulta } from '../schemas/consulta.schema.js';
import { COLLECTIONS } from './collections.js';
import { Index, SortedView, paginate, type Page } from './index.js';

export type ConsultaRecord = Consulta;

const C = COLLECTIONS.consultas;
const DAY_MS = 86_400_000;
/** The longest consulta (`duracaoConsultaMin` ≤ 240): how far back an overlapping one can start. */
const LONGEST_MS = 240 * 60_000;

const parsed = new WeakMap<object, { inicio: number; fim: number }>();

/** `inicio` and `fim` as ms since the epoch, parsed once per stored (frozen) record. */
export function times(c: ConsultaRecord): { inicio: number; fim: number } {
  let t = parsed.get(c);
  if (!t) parsed.set(c, (t = { inicio: Date.parse(c.inicio), fim: Date.parse(c.fim) }));
  return t;
}

const dayKey = (owner: string, ms: number) => `${owner}|${Math.floor(ms / DAY_MS)}`;

export interface ConsultaFilter {
  medicoId?: string | undefined;
  pacienteId?: string | undefined;
  status?: StatusConsulta | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  limit: number;
  offset: number;
}

/**
 * Consultas in the store, indexed by médico and (UTC) day, by paciente (and day), and sorted by `inicio`, so the
 * booking rules and the agenda look at a handful of records, never at the whole collection.
 */
export class ConsultaRepository {
  private readonly byMedicoDay: Index<ConsultaRecord>;
  private readonly byMedico: Index<ConsultaRecord>;
  private readonly byPaciente: Index<ConsultaRecord>;
  private readonly byPacienteDay: Index<ConsultaRecord>;
  private readonly byInicio: SortedView<ConsultaRecord>;

  constructor(private readonly store: Store) {
    this.byMedicoDay = new Index<ConsultaRecord>(store, C, (c) => [dayKey(c.medicoId, times(c).inicio)]);
    this.byMedico = new Index<ConsultaRecord>(store, C, (c) => [c.medicoId]);
    this.byPaciente = new Index<ConsultaRecord>(store, C, (c) => [c.pacienteId]);
    this.byPacienteDay = new Index<ConsultaRecord>(store, C, (c) => [dayKey(c.pacienteId, times(c).inicio)]);
    this.byInicio = new SortedView<ConsultaRecord>(store, C, compareByInicio);
  }

  get(id: string): ConsultaRecord | undefined {
    this.store.refresh();
    return this.store.get<ConsultaRecord>(C, id);
  }

  /** The médico's consultas (any status) starting in [fromMs, toMs). */
  forMedicoBetween(medicoId: string, fromMs: number, toMs: number): ConsultaRecord[] {
    return this.between(this.byMedicoDay, medicoId, fromMs, toMs);
  }

  private between(index: Index<ConsultaRecord>, owner: string, fromMs: number, toMs: number): ConsultaRecord[] {
    this.store.refresh();
    const out: ConsultaRecord[] = [];
    for (let day = Math.floor(fromMs / DAY_MS); day <= Math.floor((toMs - 1) / DAY_MS); day++) {
      for (const c of index.get(`${owner}|${day}`)) {
        const t = times(c);
        if (t.inicio >= fromMs && t.inicio < toMs) out.push(c);
      }
    }
    return out.sort(compareByInicio);
  }

  /** An `agendada` consulta of the médico overlapping [fromMs, toMs), other than `exceptId`. */
  medicoConflict(medicoId: string, fromMs: number, toMs: number, exceptId?: string): ConsultaRecord | undefined {
    return this.forMedicoBetween(medicoId, fromMs - LONGEST_MS, toMs).find(
      (c) => c.id !== exceptId && c.status === 'agendada' && overlaps(c, fromMs, toMs),
    );
  }

  /** An `agendada` consulta of the paciente, with any médico, overlapping [fromMs, toMs), other than `exceptId`. */
  pacienteConflict(pacienteId: string, fromMs: number, toMs: number, exceptId?: string): ConsultaRecord | undefined {
    // By day, like the médico's: a paciente with years of history is checked against a day or two.
    return this.between(this.byPacienteDay, pacienteId, fromMs - LONGEST_MS, toMs).find(
      (c) => c.id !== exceptId && c.status === 'agendada' && overlaps(c, fromMs, toMs),
    );
  }

  /** True when the médico has an `agendada` consulta starting after `now`. */
  medicoHasFutureAgendada(medicoId: string, now: Date): boolean {
    this.store.refresh();
    return this.byMedico.get(medicoId).some((c) => isFutureAgendada(c, now));
  }

  /** True when the paciente has an `agendada` consulta starting after `now`. */
  pacienteHasFutureAgendada(pacienteId: string, now: Date): boolean {
    this.store.refresh();
    return this.byPaciente.get(pacienteId).some((c) => isFutureAgendada(c, now));
  }

  /** A page of consultas sorted by `inicio`, starting from the narrowest index the filter allows. */
  list(filter: ConsultaFilter): Page<ConsultaRecord> {
    this.store.refresh();
    const { fromMs = -Infinity, toMs = Infinity } = filter;
    const candidates = filter.pacienteId
      ? this.byPaciente.get(filter.pacienteId).sort(compareByInicio)
      : filter.medicoId
        ? this.byMedico.get(filter.medicoId).sort(compareByInicio)
        : this.byInicio.all();
    return paginate(
      candidates,
      (c) =>
        (!filter.medicoId || c.medicoId === filter.medicoId) &&
        (!filter.status || c.status === filter.status) &&
        times(c).inicio >= fromMs &&
        times(c).inicio <= toMs,
      filter.limit,
      filter.offset,
    );
  }

  save(tx: Tx, consulta: ConsultaRecord): void {
    tx.put(C, consulta);
  }
}

function compareByInicio(a: ConsultaRecord, b: ConsultaRecord): number {
  return times(a).inicio - times(b).inicio || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function overlaps(c: ConsultaRecord, fromMs: number, toMs: number): boolean {
  const t = times(c);
  return t.inicio < toMs && t.fim > fromMs;
}

function isFutureAgendada(c: ConsultaRecord, now: Date): boolean {
  return c.status === 'agendada' && times(c).inicio > now.getTime();
}
