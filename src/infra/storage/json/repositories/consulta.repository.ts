import { holdsSlot, isPendente } from '../../../../domain/consulta-status.js';
import { LONGEST_CONSULTA_MS } from '../../../../domain/slots.js';
import type { Store, Tx } from '../store.js';
import type { Consulta } from '../../../../schemas/consulta.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { TimelineIndex, paginate, type Page } from './index.js';
import type { ConsultaFilter } from '../../../../repositories/port.js';

export type ConsultaRecord = Consulta;

const C = COLLECTIONS.consultas;

/**
 * `inicio` and `fim` as ms since the epoch. Parsed when asked (about 0.2 µs each), not cached per record: the
 * hot paths read times from the indexes, and a cache cost 10 MB of heap at 100k consultas.
 */
export function times(c: ConsultaRecord): { inicio: number; fim: number } {
  return { inicio: Date.parse(c.inicio), fim: Date.parse(c.fim) };
}

/**
 * A record as v2 answers it: records written before v2 (or restored from a backup of then) lack `chegouEm` and
 * `encaixe`; they read as `null` and `false`. Current records are returned as they are (no copy).
 */
export function withDefaults(c: ConsultaRecord): ConsultaRecord {
  return c.chegouEm === undefined || c.encaixe === undefined ? { ...c, chegouEm: c.chegouEm ?? null, encaixe: c.encaixe ?? false } : c;
}

const spanOf = (c: ConsultaRecord) => [Date.parse(c.inicio), Date.parse(c.fim)] as const;

/**
 * Consultas in the store, indexed by médico and by paciente, each in `inicio` order, so the booking rules and the
 * agenda look at a handful of records (a binary search away), never at the whole collection.
 */
export class ConsultaRepository {
  private readonly byMedico: TimelineIndex<ConsultaRecord>;
  private readonly byPaciente: TimelineIndex<ConsultaRecord>;

  constructor(private readonly store: Store) {
    this.byMedico = new TimelineIndex<ConsultaRecord>(store, C, (c) => c.medicoId, spanOf);
    this.byPaciente = new TimelineIndex<ConsultaRecord>(store, C, (c) => c.pacienteId, spanOf);
  }

  get(id: string): ConsultaRecord | undefined {
    this.store.refresh();
    const consulta = this.store.get<ConsultaRecord>(C, id);
    return consulta && withDefaults(consulta);
  }

  /** The médico's consultas (any status) starting in [fromMs, toMs), in `inicio` order. */
  forMedicoBetween(medicoId: string, fromMs: number, toMs: number): ConsultaRecord[] {
    this.store.refresh();
    return this.byMedico.between(medicoId, fromMs, toMs);
  }

  /**
   * A consulta of the médico that holds a slot overlapping [fromMs, toMs), other than `exceptId`: any status but
   * `cancelada` (a confirmed, checked-in or finished consulta keeps its slot `ocupado`), and never an encaixe
   * (encaixes do not change slot states).
   */
  medicoConflict(medicoId: string, fromMs: number, toMs: number, exceptId?: string): ConsultaRecord | undefined {
    this.store.refresh();
    return this.byMedico.overlapping(medicoId, fromMs, toMs, LONGEST_CONSULTA_MS, (c) => c.id !== exceptId && holdsSlot(c));
  }

  /**
   * A consulta of the paciente still to happen (agendada, confirmada, aguardando, em_atendimento), with any
   * médico, regular or encaixe, overlapping [fromMs, toMs), other than `exceptId`.
   */
  pacienteConflict(pacienteId: string, fromMs: number, toMs: number, exceptId?: string): ConsultaRecord | undefined {
    this.store.refresh();
    return this.byPaciente.overlapping(pacienteId, fromMs, toMs, LONGEST_CONSULTA_MS, (c) => c.id !== exceptId && isPendente(c.status));
  }

  /**
   * The médico's encaixes that are not cancelled, starting in [fromMs, toMs), in `inicio` order: what counts
   * against `maxEncaixesDia`, and what the agenda lists under `encaixes`.
   */
  encaixesBetween(medicoId: string, fromMs: number, toMs: number): ConsultaRecord[] {
    this.store.refresh();
    return this.byMedico.between(medicoId, fromMs, toMs).filter((c) => c.encaixe === true && c.status !== 'cancelada');
  }

  /** True when the médico has a consulta still to happen starting after `now`. */
  medicoHasFutureAgendada(medicoId: string, now: Date): boolean {
    this.store.refresh();
    return this.byMedico.between(medicoId, now.getTime() + 1, Infinity).some((c) => isPendente(c.status));
  }

  /** True when the paciente has a consulta still to happen starting after `now`. */
  pacienteHasFutureAgendada(pacienteId: string, now: Date): boolean {
    this.store.refresh();
    return this.byPaciente.between(pacienteId, now.getTime() + 1, Infinity).some((c) => isPendente(c.status));
  }

  /** True when any consulta (any status, any time) refers to the médico. */
  medicoHasAny(medicoId: string): boolean {
    this.store.refresh();
    return this.byMedico.between(medicoId, -Infinity, Infinity).length > 0;
  }

  /** Every consulta of the paciente (any status), in `inicio` order. */
  ofPaciente(pacienteId: string): ConsultaRecord[] {
    this.store.refresh();
    return this.byPaciente.between(pacienteId, -Infinity, Infinity);
  }

  /** True when the paciente has any consulta with the médico: what lets a médico user see that paciente. */
  pacienteSeenBy(pacienteId: string, medicoId: string): boolean {
    return this.ofPaciente(pacienteId).some((c) => c.medicoId === medicoId);
  }

  /** The pacientes with any consulta with the médico. */
  pacienteIdsOf(medicoId: string): Set<string> {
    this.store.refresh();
    return new Set(this.byMedico.between(medicoId, -Infinity, Infinity).map((c) => c.pacienteId));
  }

  /** A page of consultas sorted by `inicio`, starting from the narrowest index the filter allows. */
  list(filter: ConsultaFilter): Page<ConsultaRecord> {
    this.store.refresh();
    // `toMs` is inclusive; times are whole milliseconds.
    const fromMs = filter.fromMs ?? -Infinity;
    const toMs = (filter.toMs ?? Infinity) + 1;
    const candidates = filter.pacienteId
      ? this.byPaciente.between(filter.pacienteId, fromMs, toMs)
      : filter.medicoId
        ? this.byMedico.between(filter.medicoId, fromMs, toMs)
        : this.byMedico.allBetween(fromMs, toMs);
    const page = paginate(
      candidates,
      (c) => (!filter.medicoId || c.medicoId === filter.medicoId) && (!filter.status || c.status === filter.status),
      filter.limit,
      filter.offset,
    );
    return { ...page, items: page.items.map(withDefaults) };
  }

  save(tx: Tx, consulta: ConsultaRecord): void {
    tx.put(C, consulta);
  }
}
