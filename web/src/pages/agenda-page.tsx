/**
 * The day view: one column per médico with its slots and encaixes, live from the agenda stream, the waiting
 * list beside it, and the dialogs of the front desk.
 */
import { signal } from '@preact/signals';
import { memo } from 'preact/compat';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { BookDialog, type BookTarget } from '../agenda/book-dialog.js';
import { ConsultaDialog } from '../agenda/consulta-dialog.js';
import { EncaixeDialog } from '../agenda/encaixe-dialog.js';
import { addDays, ESTADO_ROTULOS, slotAtOrAfter, timeInZone, type DayGrid, type MedicoColumn, type SlotView } from '../agenda/grid.js';
import { todayIn } from '../agenda/time.js';
import { clinicTimezone, liveState, useDay } from '../agenda/use-day.js';
import { Waitlist } from '../agenda/waitlist.js';
import { ProblemMessage } from '../components/problem-message.js';
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import { STATUS_ROTULOS } from '../agenda/actions.js';

type Open =
  | { kind: 'book'; target: BookTarget }
  | { kind: 'consulta'; consultaId: string; medicoNome: string }
  | { kind: 'encaixe'; column: MedicoColumn }
  | null;

/** The day shown, kept across page changes (back from `Horários livres`, the same day is there). */
const shownDate = signal(todayIn(clinicTimezone.value));
/** Whether someone chose the day; until then "today" follows the clinic's zone once the API has told it. */
const dateChosen = signal(false);

export function AgendaPage() {
  const data = shownDate.value;
  const setData = (value: string) => {
    dateChosen.value = true;
    shownDate.value = value;
  };
  const day = useDay(data);
  const [open, setOpen] = useState<Open>(null);
  const [version, setVersion] = useState(0);
  const timezone = day.grid?.timezone ?? clinicTimezone.value;

  // Near midnight the browser's zone (the stand-in before the first answer) may be on another day than the
  // clinic's: once the API names the zone, a day nobody chose becomes the clinic's today.
  useEffect(() => {
    if (!day.grid || dateChosen.value) return;
    const today = todayIn(day.grid.timezone);
    if (today !== shownDate.value) shownDate.value = today;
  }, [day.grid?.timezone]);

  const afterChange = () => {
    setVersion((v) => v + 1);
  };

  // One handler for the whole grid (it never changes, so columns need not re-render for it).
  const openSlot = useCallback((column: MedicoColumn, slot: SlotView) => {
    if (slot.estado === 'disponivel') setOpen({ kind: 'book', target: { medicoId: column.medicoId, medicoNome: column.nome, inicio: slot.inicio, timezone: clinicTimezone.value } });
    else if (slot.consultaId) setOpen({ kind: 'consulta', consultaId: slot.consultaId, medicoNome: column.nome });
  }, []);

  return (
    <main class="agenda-page">
      <div class="toolbar">
        <h1>Agenda</h1>
        <label class="inline">
          Data{' '}
          <input type="date" value={data} onChange={(e) => e.currentTarget.value && setData(e.currentTarget.value)} />
        </label>
        <button type="button" onClick={() => setData(addDays(data, -1))}>
          Dia anterior
        </button>
        <button type="button" onClick={() => setData(todayIn(clinicTimezone.value))}>
          Hoje
        </button>
        <button type="button" onClick={() => setData(addDays(data, 1))}>
          Próximo dia
        </button>
        <span role="status" class={`live live-${liveState.value}`}>
          {liveState.value === 'ao-vivo' ? 'Ao vivo' : liveState.value === 'reconectando' ? 'Reconectando…' : 'Conectando…'}
        </span>
      </div>
      <ProblemMessage problem={day.problem} />
      <div class="agenda-layout">
        {day.grid === null && !day.problem && <p role="status">Carregando a agenda…</p>}
        {day.grid && (
          <SlotGrid
            grid={day.grid}
            columns={day.grid.columns}
            timezone={timezone}
            consultas={day.consultas}
            nomes={day.nomes}
            onSlot={openSlot}
            onEncaixe={(column) => setOpen({ kind: 'encaixe', column })}
            onEncaixeItem={(column, consultaId) => setOpen({ kind: 'consulta', consultaId, medicoNome: column.nome })}
          />
        )}
        <Waitlist
          medicos={day.medicos}
          nomes={day.nomes}
          vagas={day.vagas}
          timezone={timezone}
          version={version}
          onBookVaga={(entry, vaga, paciente) => {
            const medico = day.medicos.find((m) => m.id === vaga.medicoId);
            day.dismissVaga(entry.id);
            setOpen({ kind: 'book', target: { medicoId: vaga.medicoId, medicoNome: medico?.nome ?? '', inicio: vaga.inicio, timezone, paciente } });
          }}
        />
      </div>
      {open?.kind === 'book' && (
        <BookDialog
          target={open.target}
          onClose={() => setOpen(null)}
          onBooked={() => {
            setOpen(null);
            afterChange();
          }}
        />
      )}
      {open?.kind === 'consulta' && (
        <ConsultaDialog consultaId={open.consultaId} medicoNome={open.medicoNome} timezone={timezone} onClose={() => setOpen(null)} onChanged={afterChange} />
      )}
      {open?.kind === 'encaixe' && (
        <EncaixeDialog
          medicoId={open.column.medicoId}
          medicoNome={open.column.nome}
          data={data}
          timezone={timezone}
          onClose={() => setOpen(null)}
          onBooked={() => {
            setOpen(null);
            afterChange();
            // The encaixe arrives by the stream too; a refetch makes sure the column lists it with its paciente.
            void day.reload();
          }}
        />
      )}
    </main>
  );
}

interface GridProps {
  grid: DayGrid;
  columns: MedicoColumn[];
  timezone: string;
  consultas: ReadonlyMap<string, Consulta>;
  nomes: ReadonlyMap<string, string>;
  onSlot: (column: MedicoColumn, slot: SlotView) => void;
  onEncaixe: (column: MedicoColumn) => void;
  onEncaixeItem: (column: MedicoColumn, consultaId: string) => void;
}

/**
 * The slot buttons form one roving tab stop: Tab enters the grid at the last slot used, arrows move
 * (Up/Down within a column, Left/Right to the nearest slot in time of the next column), Enter/Space opens.
 */
function SlotGrid(props: GridProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState<string | null>(null);
  const firstKey = props.columns.find((c) => c.slots.length > 0);
  const activeKey = active ?? (firstKey ? keyOf(firstKey.slots[0]!) : null);
  useScrollToNow(props.grid, ref, setActive);

  // Clicks and focus are handled once for the grid (the slot is found from the button's data-*), not by two
  // closures on each of the 1,000 buttons.
  const slotOf = (target: EventTarget | null): [MedicoColumn, SlotView] | null => {
    const button = target instanceof Element ? target.closest<HTMLElement>('button.slot') : null;
    const column = button && props.columns.find((c) => c.medicoId === button.dataset['medicoId']);
    const slot = column?.slots.find((s) => s.inicio === button!.dataset['inicio']);
    return column && slot ? [column, slot] : null;
  };
  const onClick = (event: MouseEvent) => {
    const hit = slotOf(event.target);
    if (hit && (hit[1].estado === 'disponivel' || hit[1].consultaId !== null)) props.onSlot(hit[0], hit[1]);
  };
  const onFocusIn = (event: FocusEvent) => {
    const hit = slotOf(event.target);
    if (hit) setActive(keyOf(hit[1]));
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains('slot') || !ref.current) return;
    const columns = [...ref.current.querySelectorAll<HTMLElement>('section.column')].map((s) => [...s.querySelectorAll<HTMLButtonElement>('button.slot')]);
    const col = columns.findIndex((c) => c.includes(target as HTMLButtonElement));
    const row = columns[col]?.indexOf(target as HTMLButtonElement) ?? -1;
    if (col < 0 || row < 0) return;
    let next: HTMLButtonElement | undefined;
    if (event.key === 'ArrowDown') next = columns[col]![row + 1];
    else if (event.key === 'ArrowUp') next = columns[col]![row - 1];
    else if (event.key === 'Home') next = columns[col]![0];
    else if (event.key === 'End') next = columns[col]!.at(-1);
    else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      const step = event.key === 'ArrowRight' ? 1 : -1;
      for (let c = col + step; c >= 0 && c < columns.length && !next; c += step) next = nearest(columns[c]!, target.dataset['inicio']!);
    } else return;
    event.preventDefault();
    if (next) {
      setActive(`${next.dataset['medicoId']}|${next.dataset['inicio']}`);
      next.focus();
    }
  };

  if (props.columns.length === 0) return <p class="notice">Nenhum médico ativo com agenda neste dia.</p>;
  return (
    <div class="grid" ref={ref} onKeyDown={onKeyDown} onClick={onClick} onFocusIn={onFocusIn} style={{ gridTemplateColumns: `repeat(${props.columns.length}, minmax(11.5rem, 20rem))` }}>
      {props.columns.map((column) => (
        <Column key={column.medicoId} column={column} timezone={props.timezone} consultas={props.consultas} nomes={props.nomes} onEncaixe={props.onEncaixe} onEncaixeItem={props.onEncaixeItem} activeKey={activeKey} />
      ))}
    </div>
  );
}

function nearest(buttons: HTMLButtonElement[], inicio: string): HTMLButtonElement | undefined {
  const t = Date.parse(inicio);
  let best: HTMLButtonElement | undefined;
  let bestDiff = Infinity;
  for (const b of buttons) {
    const diff = Math.abs(Date.parse(b.dataset['inicio']!) - t);
    if (diff < bestDiff) [best, bestDiff] = [b, diff];
  }
  return best;
}

/** ` Disponível`…: the state word with the space that separates it from the time, made once. */
const ESTADO_SPACED = Object.fromEntries(Object.entries(ESTADO_ROTULOS).map(([k, v]) => [k, ` ${v}`])) as typeof ESTADO_ROTULOS;

function keyOf(slot: SlotView): string {
  return `${slot.medicoId}|${slot.inicio}`;
}

type ColumnProps = Pick<GridProps, 'timezone' | 'consultas' | 'nomes' | 'onEncaixe' | 'onEncaixeItem'> & { column: MedicoColumn; activeKey: string | null };

/**
 * A column re-renders only when something it shows changed: its slots, the roving tab stop inside it, or the
 * name or status of one of its consultas. Without this, each stream event (and each name fetched after it)
 * would re-render every column: 100 events on a 20-médico day blocked the page for seconds.
 */
function sameColumn(prev: ColumnProps, next: ColumnProps): boolean {
  // Handlers are not compared: they only call the page's state setters, which never change.
  if (prev.column !== next.column || prev.timezone !== next.timezone) return false;
  const mine = (key: string | null) => key !== null && key.startsWith(`${next.column.medicoId}|`);
  if ((mine(prev.activeKey) || mine(next.activeKey)) && prev.activeKey !== next.activeKey) return false;
  const ids = [...next.column.slots.map((s) => s.consultaId), ...next.column.encaixes.map((e) => e.consultaId)];
  for (const id of ids) {
    if (id === null) continue;
    const a = prev.consultas.get(id);
    const b = next.consultas.get(id);
    if (a?.status !== b?.status || a?.pacienteId !== b?.pacienteId) return false;
    if (b && prev.nomes.get(b.pacienteId) !== next.nomes.get(b.pacienteId)) return false;
  }
  return true;
}

const Column = memo(function Column(props: ColumnProps) {
  const { column, timezone } = props;
  const nomeDe = (consultaId: string | null) => {
    const c = consultaId ? props.consultas.get(consultaId) : undefined;
    return c ? props.nomes.get(c.pacienteId) : undefined;
  };
  return (
    <section class="column" aria-label={`Agenda de ${column.nome}`} data-medico-id={column.medicoId}>
      <header class="column-header">
        <h2>{column.nome}</h2>
        <small>{column.especialidade}</small>
      </header>
      {/* No inner scroll (the page scrolls): a scrolling box would need its own tab stop to be keyboard-usable. */}
      <div class="slots">
        {column.slots.length === 0 && <p class="notice">Sem atendimento neste dia.</p>}
        {column.slots.map((slot) => {
          const nome = slot.estado === 'ocupado' || slot.estado === 'passado' ? nomeDe(slot.consultaId) : undefined;
          // Who has arrived, who is being seen, who missed it: the consulta's status beside the name (not for
          // `agendada`, which every ocupado slot starts as).
          const status = nome && slot.consultaId ? props.consultas.get(slot.consultaId)?.status : undefined;
          const opens = slot.estado === 'disponivel' || slot.consultaId !== null;
          return (
            <button
              key={slot.inicio}
              type="button"
              class={`slot estado-${slot.estado}`}
              data-medico-id={slot.medicoId}
              data-inicio={slot.inicio}
              data-estado={slot.estado}
              tabIndex={props.activeKey !== null && props.activeKey === keyOf(slot) ? 0 : -1}
              aria-disabled={opens ? undefined : 'true'}
              title={slot.motivo}
            >
              <span class="time">{slot.hora}</span>
              {/* The space goes inside the state's span: one DOM node less per slot (1,000 on a full day). */}
              <span class="estado">{ESTADO_SPACED[slot.estado]}</span>
              {nome && (
                <span class="nome">
                  {nome}
                  {status && status !== 'agendada' && <small class="status"> · {STATUS_ROTULOS[status]}</small>}
                </span>
              )}
              {slot.estado === 'bloqueado' && slot.motivo && <span class="nome">{slot.motivo}</span>}
            </button>
          );
        })}
      </div>
      <div class="encaixes">
        <h3>Encaixes</h3>
        {column.encaixes.length === 0 && <p class="notice">Nenhum encaixe.</p>}
        <ul>
          {column.encaixes.map((e) => {
            const c = props.consultas.get(e.consultaId);
            return (
              <li key={e.consultaId} data-encaixe-id={e.consultaId}>
                <button type="button" class="encaixe" onClick={() => props.onEncaixeItem(column, e.consultaId)}>
                  {timeInZone(e.inicio, timezone)} {nomeDe(e.consultaId) ?? 'Encaixe'}
                  {c && <small> · {STATUS_ROTULOS[c.status]}</small>}
                </button>
              </li>
            );
          })}
        </ul>
        <button type="button" class="encaixe-add" onClick={() => props.onEncaixe(column)}>
          Encaixe
        </button>
      </div>
    </section>
  );
}, sameColumn);

/**
 * When the day shown is today, its first render scrolls the page to the slot running now (or the next one)
 * and makes it the grid's tab stop: opening the app at 14:00 should not show 00:00. Only once per day shown,
 * so live updates and reloads never move the page under the receptionist.
 */
function useScrollToNow(grid: DayGrid, ref: { current: HTMLDivElement | null }, setActive: (key: string) => void): void {
  const done = useRef<string | null>(null);
  const frame = useRef(0);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);
  useLayoutEffect(() => {
    if (done.current === grid.data) return;
    done.current = grid.data;
    if (grid.data !== todayIn(grid.timezone)) return;
    const slot = slotAtOrAfter(grid, Date.now());
    const button = slot && ref.current?.querySelector<HTMLElement>(`button.slot[data-medico-id="${CSS.escape(slot.medicoId)}"][data-inicio="${CSS.escape(slot.inicio)}"]`);
    if (!slot || !button) return;
    setActive(keyOf(slot));
    // Columns are laid out only once the browser has seen them in view (`content-visibility`): until the first
    // frame has drawn them, the page is too short to scroll to 14:00. So the scroll waits for the next frames,
    // trying again (a few frames at most) until the slot is in view. Centred: the hour before stays in view;
    // `nearest` keeps the column set where it is sideways.
    let tries = 0;
    const bring = () => {
      button.scrollIntoView({ block: 'center', inline: 'nearest' });
      const box = button.getBoundingClientRect();
      if ((box.top < 0 || box.bottom > window.innerHeight) && ++tries < 5) frame.current = requestAnimationFrame(bring);
    };
    frame.current = requestAnimationFrame(bring);
  }, [grid]);
}
