/**
 * The day view: one column per médico with its slots and encaixes, live from the agenda stream, the waiting
 * list beside it, and the dialogs of the front desk.
 */
import { signal } from '@preact/signals';
import { memo } from 'preact/compat';
import { useRef, useState } from 'preact/hooks';
import { BookDialog, type BookTarget } from '../agenda/book-dialog.js';
import { ConsultaDialog } from '../agenda/consulta-dialog.js';
import { EncaixeDialog } from '../agenda/encaixe-dialog.js';
import { addDays, ESTADO_ROTULOS, timeInZone, type MedicoColumn, type SlotView } from '../agenda/grid.js';
import { todayIn } from '../agenda/time.js';
import { liveState, useDay } from '../agenda/use-day.js';
import { Waitlist } from '../agenda/waitlist.js';
import { ProblemMessage } from '../components/problem-message.js';
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import { STATUS_ROTULOS } from '../agenda/actions.js';

const CLINIC_TZ = 'America/Sao_Paulo';

type Open =
  | { kind: 'book'; target: BookTarget }
  | { kind: 'consulta'; consultaId: string; medicoNome: string }
  | { kind: 'encaixe'; column: MedicoColumn }
  | null;

/** The day shown, kept across page changes (back from `Horários livres`, the same day is there). */
const shownDate = signal(todayIn(CLINIC_TZ));

export function AgendaPage() {
  const data = shownDate.value;
  const setData = (value: string) => {
    shownDate.value = value;
  };
  const day = useDay(data);
  const [open, setOpen] = useState<Open>(null);
  const [version, setVersion] = useState(0);
  const timezone = day.grid?.timezone ?? CLINIC_TZ;

  const afterChange = () => {
    setVersion((v) => v + 1);
  };

  const openSlot = (column: MedicoColumn, slot: SlotView) => {
    if (slot.estado === 'disponivel') setOpen({ kind: 'book', target: { medicoId: column.medicoId, medicoNome: column.nome, inicio: slot.inicio, timezone } });
    else if (slot.consultaId) setOpen({ kind: 'consulta', consultaId: slot.consultaId, medicoNome: column.nome });
  };

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
        <button type="button" onClick={() => setData(todayIn(CLINIC_TZ))}>
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
    <div class="grid" ref={ref} onKeyDown={onKeyDown} style={{ gridTemplateColumns: `repeat(${props.columns.length}, minmax(11.5rem, 20rem))` }}>
      {props.columns.map((column) => (
        <Column key={column.medicoId} column={column} {...props} activeKey={activeKey} onFocusSlot={setActive} />
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

function keyOf(slot: SlotView): string {
  return `${slot.medicoId}|${slot.inicio}`;
}

type ColumnProps = GridProps & { column: MedicoColumn; activeKey: string | null; onFocusSlot: (key: string) => void };

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
          const key = keyOf(slot);
          const nome = slot.estado === 'ocupado' || slot.estado === 'passado' ? nomeDe(slot.consultaId) : undefined;
          const opens = slot.estado === 'disponivel' || slot.consultaId !== null;
          return (
            <button
              key={slot.inicio}
              type="button"
              class={`slot estado-${slot.estado}`}
              data-medico-id={slot.medicoId}
              data-inicio={slot.inicio}
              data-estado={slot.estado}
              tabIndex={key === props.activeKey ? 0 : -1}
              aria-disabled={opens ? undefined : 'true'}
              title={slot.motivo}
              onFocus={() => props.onFocusSlot(key)}
              onClick={() => opens && props.onSlot(column, slot)}
            >
              <span class="time">{timeInZone(slot.inicio, timezone)}</span> <span class="estado">{ESTADO_ROTULOS[slot.estado]}</span>
              {nome && <span class="nome">{nome}</span>}
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
