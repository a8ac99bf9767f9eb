import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { ScheduleEvent } from '../domain/schedule-state.js';
import type { SlotStates } from '../domain/slot-states.js';
import { localDate, nextDate, type SlotTime } from '../domain/slots.js';
import type { MedicoReads } from '../repositories/port.js';
import type { Medico } from '../schemas/medico.schema.js';
import type { ListaEsperaService } from './lista-espera.service.js';

/** The `vaga_disponivel` event: a free slot and the waiting-list entries it serves. No patient data. */
export interface VagaDisponivel {
  medicoId: string;
  inicio: string;
  fim: string;
  listaEsperaIds: string[];
}

export interface VagaDisponivelDeps {
  medicos: Pick<MedicoReads, 'get'>;
  listaEspera: Pick<ListaEsperaService, 'matcher'>;
  /** The agenda's slot states (one sweep over the freed range). */
  slotStates: Pick<SlotStates, 'sweep'>;
  clock: Clock;
  timezone: string;
  /** Where the events go (the composition root sends them to the agenda stream). */
  publish: (event: VagaDisponivel) => void;
  logger: Logger;
}

/** A freed range longer than this (a long bloqueio removed) is looked at only this far. */
const MAX_DAYS = 366;

/**
 * Tells the front desk when a slot someone is waiting for frees up. It hears the schedule's domain events and
 * acts on `horario_disponivel` only when the slot left `ocupado` (a consulta cancelled or moved away): a slot
 * given back by a failed booking was never taken, and nobody could have been waiting for it. A bloqueio
 * removed reaches it through {@link onSlotsFreed}.
 *
 * A freed range is turned back into the médico's slots that are `disponivel` *now* (the agenda's truth: an
 * encaixe cancelled over a slot still held, a slot under a bloqueio, a past one, free nothing), and each such
 * slot with matching active entries becomes one event.
 */
export class VagaDisponivelNotifier {
  constructor(private readonly deps: VagaDisponivelDeps) {}

  /**
   * Listener for {@link ScheduleState.subscribe}. Never throws: a listener's failure must not break a commit.
   * The work it starts reads storage, so it finishes after the commit's listeners return.
   */
  onScheduleEvent = (event: ScheduleEvent): void => {
    if (event.type !== 'horario_disponivel' || event.antes !== 'ocupado') return;
    void this.onSlotsFreed(event.medicoId, [{ inicioMs: Date.parse(event.inicio), fimMs: Date.parse(event.fim) }]);
  };

  /**
   * Ranges of a médico's time that became free (slots of a cancelled consulta, a removed bloqueio's span):
   * publishes `vaga_disponivel` for each free slot inside them that active entries wait for. Never rejects.
   */
  async onSlotsFreed(medicoId: string, ranges: readonly SlotTime[]): Promise<void> {
    try {
      const medico = await this.deps.medicos.get(medicoId);
      if (!medico || !medico.ativo) return;
      const match = await this.deps.listaEspera.matcher(medico);
      const seen = new Set<number>();
      for (const range of ranges) {
        for (const slot of await this.freeSlotsIn(medico, range)) {
          if (seen.has(slot.inicioMs)) continue;
          seen.add(slot.inicioMs);
          const listaEsperaIds = match(slot);
          if (listaEsperaIds.length === 0) continue;
          const zone = this.deps.timezone;
          this.deps.publish({ medicoId, inicio: formatInstant(slot.inicioMs, zone), fim: formatInstant(slot.fimMs, zone), listaEsperaIds });
        }
      }
    } catch (error) {
      this.deps.logger.warn({ err: error, medicoId }, 'aviso de vaga para a lista de espera falhou');
    }
  }

  /** The médico's `disponivel` slots overlapping `range`: one sweep (one read of the range), then day by day. */
  private async freeSlotsIn(medico: Medico, range: SlotTime): Promise<SlotTime[]> {
    const zone = this.deps.timezone;
    // A slot belongs to the date it starts on and lasts at most 240 minutes: one day back covers any slot
    // that starts before the range and reaches into it.
    const first = localDate(range.inicioMs - 86_400_000, zone);
    const last = localDate(range.fimMs - 1, zone);
    const dates: string[] = [];
    for (let date = first, days = 0; date <= last && days <= MAX_DAYS; days++, date = nextDate(date)) dates.push(date);
    const sweep = await this.deps.slotStates.sweep(medico, dates[0]!, dates[dates.length - 1]!, this.deps.clock.now().getTime());
    const free: SlotTime[] = [];
    for (const date of dates) {
      sweep.visit(date, sweep.cuts(date), (inicioMs, fimMs, estado) => {
        if (estado === 'disponivel' && inicioMs < range.fimMs && fimMs > range.inicioMs) free.push({ inicioMs, fimMs });
      });
    }
    return free;
  }
}
