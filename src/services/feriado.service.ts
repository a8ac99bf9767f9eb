import { randomUUID } from 'node:crypto';
import Holidays from 'date-holidays';
import type { Clock } from '../core/clock.js';
import { notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatInstant } from '../core/time.js';
import type { Closures, ClosingHolidays } from '../domain/slot-states.js';
import type { Reads, StoragePort } from '../repositories/port.js';
import type { Feriado, FeriadoInput, FeriadoRecord } from '../schemas/feriado.schema.js';
import type { Auditor } from './audit.service.js';

export interface FeriadoServiceDeps {
  storage: Pick<StoragePort, 'feriados' | 'run'>;
  auditor: Auditor;
  clock: Clock;
  timezone: string;
  logger: Logger;
  /** FERIADOS_NACIONAIS: list (and block on) Brazil's national holidays. */
  nacionais: boolean;
  /** CLINIC_UF: the state whose holidays count too. */
  uf?: string | undefined;
}

/** date-holidays' names where Brazilian usage differs. */
const NOMES: Record<string, string> = {
  'Corpo de Deus': 'Corpus Christi',
  'Dia do trabalhador': 'Dia do Trabalho',
  'Sexta-Feira Santa': 'Sexta-feira Santa',
};

/**
 * Holidays: Brazil's national ones (and, with CLINIC_UF, the state's) computed for any year by the maintained
 * `date-holidays` calendar — fixed dates, Easter-based Sexta-feira Santa, Carnaval and Corpus Christi as
 * ponto facultativo — plus the clinic's own (municipal holidays, closures), stored.
 *
 * date-holidays' `public` days are holidays; its `bank` days (Carnaval's Monday and Tuesday, Corpus Christi)
 * are the federal government's pontos facultativos. Its `optional` half days (Ash Wednesday morning,
 * Christmas and New Year's Eve afternoons) and `observance` days (Mother's Day) are neither, and left out.
 */
export class FeriadoService implements ClosingHolidays {
  private readonly computed = new Map<number, Feriado[]>();
  private readonly calendar: Holidays | undefined;
  private readonly stateCalendar: Holidays | undefined;

  constructor(private readonly deps: FeriadoServiceDeps) {
    this.calendar = deps.nacionais || deps.uf ? new Holidays('BR', { languages: ['pt'], timezone: 'UTC' }) : undefined;
    this.stateCalendar = deps.uf ? new Holidays('BR', deps.uf, { languages: ['pt'], timezone: 'UTC' }) : undefined;
  }

  /** Every holiday of a year, by date: national, state and the clinic's. */
  async list(ano: number): Promise<Feriado[]> {
    const clinica = (await this.deps.storage.feriados.ofYear(ano)).map((f): Feriado => ({ id: f.id, data: f.data, nome: f.nome, tipo: 'clinica', pontoFacultativo: false }));
    return [...this.computedFor(ano), ...clinica].sort((a, b) => (a.data < b.data ? -1 : a.data > b.data ? 1 : 0));
  }

  /** The holiday that closes the clinic on a date (`YYYY-MM-DD`), if any: not a ponto facultativo. */
  async closingOn(data: string, reads: Pick<Reads, 'feriados'> = this.deps.storage): Promise<{ nome: string } | undefined> {
    const nome = (await this.closures(data, data, reads))(data);
    return nome === undefined ? undefined : { nome };
  }

  /**
   * The closing holidays of the dates from `firstDate` to `lastDate` (`YYYY-MM-DD`), read once: the clinic's own
   * (which win over a computed one on the same date) with one query per year of the range, or one for a single
   * date; then each date is answered without I/O (the agenda asks for every day of a range). `reads` is a unit
   * of work when a booking rule asks inside one.
   */
  async closures(firstDate: string, lastDate: string, reads: Pick<Reads, 'feriados'> = this.deps.storage): Promise<Closures> {
    const { feriados } = reads;
    const first = Number(firstDate.slice(0, 4));
    const last = Number(lastDate.slice(0, 4));
    const clinica = new Map<string, string>();
    const own =
      firstDate === lastDate
        ? await feriados.on(firstDate)
        : (await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => feriados.ofYear(first + i)))).flat();
    for (const f of own) if (!clinica.has(f.data)) clinica.set(f.data, f.nome);
    return (date) => clinica.get(date) ?? this.computedFor(Number(date.slice(0, 4))).find((f) => f.data === date && !f.pontoFacultativo)?.nome;
  }

  async create(input: FeriadoInput): Promise<FeriadoRecord> {
    const feriado = await this.deps.storage.run(async (tx) => {
      const created: FeriadoRecord = { id: randomUUID(), data: input.data, nome: input.nome, criadoEm: formatInstant(this.deps.clock.now(), this.deps.timezone) };
      await tx.feriados.save(created);
      await this.deps.auditor.stage(tx, { acao: 'feriado.criar', recurso: 'feriado', recursoId: created.id, status: 201 });
      return created;
    });
    this.deps.logger.info({ feriadoId: feriado.id }, 'feriado da clínica cadastrado');
    return feriado;
  }

  async remove(id: string): Promise<void> {
    await this.deps.storage.run(async (tx) => {
      if (!(await tx.feriados.get(id))) throw notFound('Feriado');
      await tx.feriados.remove(id);
      await this.deps.auditor.stage(tx, { acao: 'feriado.excluir', recurso: 'feriado', recursoId: id, status: 204 });
    });
    this.deps.logger.info({ feriadoId: id }, 'feriado da clínica excluído');
  }

  /** National (when on) and state holidays of a year, computed once per year. */
  private computedFor(ano: number): Feriado[] {
    let list = this.computed.get(ano);
    if (!list) {
      const nacionais = this.calendar ? this.fromCalendar(this.calendar, ano, 'nacional') : [];
      const seen = new Set(nacionais.map((f) => `${f.data}|${f.nome}`));
      const estaduais = this.stateCalendar ? this.fromCalendar(this.stateCalendar, ano, 'estadual').filter((f) => !seen.has(`${f.data}|${f.nome}`)) : [];
      list = [...(this.deps.nacionais ? nacionais : []), ...estaduais];
      if (this.computed.size > 200) this.computed.clear(); // bounded: years asked for
      this.computed.set(ano, list);
    }
    return list;
  }

  private fromCalendar(calendar: Holidays, ano: number, tipo: 'nacional' | 'estadual'): Feriado[] {
    return calendar
      .getHolidays(ano, 'pt')
      .filter((h) => h.type === 'public' || h.type === 'bank')
      .map((h): Feriado => ({ id: null, data: h.date.slice(0, 10), nome: NOMES[h.name] ?? h.name, tipo, pontoFacultativo: h.type === 'bank' }));
  }
}
