/**
 * How the day view takes the agenda stream without choking on a burst: events are applied in batches (one
 * per animation frame, so 100 bookings cost a few renders, not 100), the consultas and names they call for
 * are fetched in batches too, and events that arrive while the day is loading are held and replayed on top
 * of the loaded snapshot instead of loading the day again (which, under a steady stream, never settled).
 * Pure apart from the scheduler each batcher is given, so `tests/web/live.test.ts` drives them by hand.
 */
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import { applyEvent, sameInstant, type DayGrid, type StreamEvent } from './grid.js';

/** A waiting-list entry a freed slot now serves (`vaga_disponivel`). */
export interface Vaga {
  medicoId: string;
  inicio: string;
  fim: string;
}

/** What the stream changes: the grid (null before the first load answers), the day's consultas, the vagas. */
export interface LiveDay {
  grid: DayGrid | null;
  consultas: ReadonlyMap<string, Consulta>;
  vagas: ReadonlyMap<string, Vaga>;
}

export interface BatchOutcome {
  /** The new state; each part keeps its identity when no event changed it (no needless re-render). */
  day: LiveDay;
  /** An event asked for the day again (`resync`, `agenda_alterada` of a shown médico). */
  refetch: boolean;
  /** Consultas the new grid names that the page may not know yet (bookings seen on the stream). */
  consultaIds: string[];
}

/**
 * Applies a batch of events in arrival order. Every slot event carries the slot's whole new state, so
 * replaying events that the snapshot already reflects is harmless, and replaying the ones it missed makes it
 * current: that is what lets a load keep the events that arrived during it.
 */
export function applyBatch(day: LiveDay, events: readonly StreamEvent[]): BatchOutcome {
  let { grid, consultas, vagas } = day;
  let refetch = false;
  const consultaIds = new Set<string>();
  let consultasCopied = false;
  let vagasCopied = false;
  const editConsultas = () => {
    if (!consultasCopied) consultas = new Map(consultas);
    consultasCopied = true;
    return consultas as Map<string, Consulta>;
  };
  const editVagas = () => {
    if (!vagasCopied) vagas = new Map(vagas);
    vagasCopied = true;
    return vagas as Map<string, Vaga>;
  };
  for (const event of events) {
    if (event.type === 'vaga_disponivel') {
      for (const id of event.listaEsperaIds) editVagas().set(id, { medicoId: event.medicoId, inicio: event.inicio, fim: event.fim });
      continue;
    }
    if (event.type === 'horario_ocupado') {
      // The vaga was taken (here or elsewhere): its waiting-list entries stop offering it.
      for (const [id, v] of vagas) if (v.medicoId === event.medicoId && sameInstant(v.inicio, event.inicio)) editVagas().delete(id);
    }
    if (event.type === 'consulta_status') {
      const c = consultas.get(event.consultaId);
      if (c) editConsultas().set(c.id, { ...c, status: event.status, inicio: event.inicio, fim: event.fim });
    }
    if (!grid) continue;
    const outcome = applyEvent(grid, event);
    if (outcome.kind === 'refetch') refetch = true;
    else if (outcome.kind === 'update') {
      grid = outcome.grid;
      if ('consultaId' in event && event.consultaId) consultaIds.add(event.consultaId);
    }
  }
  return { day: { grid, consultas, vagas }, refetch, consultaIds: [...consultaIds] };
}

/** Runs a callback later; `requestAnimationFrame` in the page, a hand-driven queue in tests. */
export type Schedule = (run: () => void) => void;

/**
 * Collects items and hands them to `flush` together, once per scheduled turn: the first `push` schedules the
 * flush, later ones before it runs join the same batch.
 */
export class FrameBatch<T> {
  private items: T[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly schedule: Schedule,
  ) {}

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      if (this.closed) return;
      const items = this.items;
      this.items = [];
      this.flush(items);
    });
  }

  /** Drops what is pending and ignores later pushes (the page is gone). */
  close(): void {
    this.closed = true;
    this.items = [];
  }
}

/**
 * Fetches ids in batches: ids added while a batch is waiting or in flight join the next one, and at most one
 * batch (of at most `maxBatch` ids) is in flight at a time. A burst of 100 bookings thus makes a handful of
 * state updates (each one a render of the page) instead of one per booking, and starting many requests at
 * once (each `fetch` call costs the page a few milliseconds) never makes one long task.
 */
export class IdBatcher {
  private pending = new Set<string>();
  private running = false;
  private scheduled = false;

  constructor(
    private readonly fetch: (ids: string[]) => Promise<void>,
    private readonly schedule: Schedule,
    private readonly maxBatch = Infinity,
  ) {}

  add(ids: Iterable<string>): void {
    for (const id of ids) this.pending.add(id);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.scheduled || this.pending.size === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      const ids = [...this.pending].slice(0, this.maxBatch);
      for (const id of ids) this.pending.delete(id);
      this.running = true;
      this.fetch(ids)
        .catch(() => undefined) // a failed batch leaves names blank; the next load fills them
        .finally(() => {
          this.running = false;
          this.kick();
        });
    });
  }
}

/**
 * Loads of the day, never two at once: a reload asked for while one is in flight (a `resync`, an
 * `agenda_alterada`, the page after an encaixe) is done once, after it, so a burst of such events costs at most
 * the load in flight and one more. `restart` (another day chosen) supersedes the load in flight at once: `run`
 * is told, through `isCurrent`, that its answer no longer counts.
 */
export class LoadCoalescer {
  private inFlight = false;
  private again = false;
  private generation = 0;

  constructor(private readonly run: (isCurrent: () => boolean) => Promise<void>) {}

  request(): void {
    if (this.inFlight) this.again = true;
    else this.start();
  }

  restart(): void {
    this.start();
  }

  private start(): void {
    const generation = ++this.generation;
    this.inFlight = true;
    this.again = false;
    const isCurrent = () => generation === this.generation;
    void this.run(isCurrent).finally(() => {
      if (!isCurrent()) return;
      this.inFlight = false;
      if (this.again) this.request();
    });
  }
}
