import { COLLECTIONS } from '../repositories/collections.js';
import type { BookingSubjects, Change, ChangeFeed, ConsultaReads } from '../repositories/port.js';
import type { Bloqueio } from '../schemas/bloqueio.schema.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { Paciente } from '../schemas/paciente.schema.js';

export interface SubjectsCacheDeps {
  /** Committed data: what a miss reads. */
  consultas: Pick<ConsultaReads, 'subjectsOf'>;
  /** Every commit of every process sharing the storage, pushed as it happens (see `ChangeFeed.onCommit`). */
  changes: ChangeFeed;
  /** Records kept before the cache starts over (médicos and pacientes together). */
  maxEntries?: number | undefined;
}

/** A clinic network has tens of médicos and tens of thousands of pacientes: about 1 kB each. */
const MAX_ENTRIES = 20_000;

/**
 * The médicos, pacientes and médicos' bloqueios a booking's early checks read (`ConsultaReads.subjectsOf`), kept in
 * memory and kept current by the change feed: on PostgreSQL that read was one statement per booking, of about six,
 * and these records change far less often than they are booked against.
 *
 * Only for the early checks, which answer fast and decide nothing (`BookingRules`): another process's change reaches
 * this cache with the feed, up to a moment later, and until then the early checks may see the old record. So they
 * accept on what is kept here, and refuse only on what a fresh read says; the unit of work's re-check, against the
 * database, is what decides. Records not found are not kept (a refusal reads again anyway, and unknown ids would fill
 * the cache).
 *
 * A read that a change of the same collections overtakes is answered but not kept: it may predate the change.
 */
export class SubjectsCache {
  private readonly medicos = new Map<string, Medico>();
  private readonly pacientes = new Map<string, Paciente>();
  /** By médico. */
  private readonly bloqueios = new Map<string, Bloqueio[]>();
  /** Bumped by every change these maps hear: a read that awaited storage meanwhile is not kept. */
  private generation = 0;
  private readonly maxEntries: number;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly deps: SubjectsCacheDeps) {
    this.maxEntries = deps.maxEntries ?? MAX_ENTRIES;
    this.unsubscribe = [
      deps.changes.onCommit((changes) => {
        for (const change of changes) this.onChange(change);
      }),
      deps.changes.onReset((collection) => {
        if (collection === COLLECTIONS.medicos || collection === COLLECTIONS.pacientes || collection === COLLECTIONS.bloqueios) this.clear();
      }),
    ];
  }

  /** As `ConsultaReads.subjectsOf`, from memory when all three are kept. */
  async subjectsOf(medicoId: string, pacienteId: string): Promise<BookingSubjects> {
    const medico = this.medicos.get(medicoId);
    const paciente = this.pacientes.get(pacienteId);
    const bloqueios = this.bloqueios.get(medicoId);
    if (medico && paciente && bloqueios) return { medico, paciente, bloqueios };
    const generation = this.generation;
    const read = await this.deps.consultas.subjectsOf(medicoId, pacienteId);
    if (generation !== this.generation) return read;
    if (this.medicos.size + this.pacientes.size >= this.maxEntries) this.clear();
    if (read.medico) {
      this.medicos.set(medicoId, read.medico);
      this.bloqueios.set(medicoId, read.bloqueios);
    }
    if (read.paciente) this.pacientes.set(pacienteId, read.paciente);
    return read;
  }

  /** Stops listening to the feed and lets go of what it kept (the container is closing). */
  stop(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
    this.clear();
  }

  private onChange(change: Change): void {
    switch (change.collection) {
      case COLLECTIONS.medicos:
        this.generation++;
        this.medicos.delete(change.id);
        this.bloqueios.delete(change.id);
        break;
      case COLLECTIONS.pacientes:
        this.generation++;
        this.pacientes.delete(change.id);
        break;
      case COLLECTIONS.bloqueios:
        this.generation++;
        for (const record of [change.before, change.after]) {
          if (record) this.bloqueios.delete((record as Bloqueio).medicoId);
        }
        break;
    }
  }

  private clear(): void {
    this.generation++;
    this.medicos.clear();
    this.pacientes.clear();
    this.bloqueios.clear();
  }
}
