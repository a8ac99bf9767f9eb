/**
 * The day view's state: fetches the médicos, their agendas and the day's consultas (with their pacientes'
 * names), then keeps it current from the agenda stream. Slot events change the grid in place, a frame's worth
 * at a time (`live.ts`); `resync`, `agenda_alterada` and every reconnection load the day again, coalesced so a
 * burst costs at most two loads. Events that arrive during a load are held and replayed on its snapshot.
 */
import { signal } from '@preact/signals';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { Agenda as AgendaSchema } from '../../../src/schemas/agenda.schema.js';
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import type { Medico } from '../../../src/schemas/medico.schema.js';
import type { Paciente } from '../../../src/schemas/paciente.schema.js';
import { api } from '../api.js';
import { problemOf, type Problem } from '../problem.js';
import { currentUser } from '../session.js';
import { browserTimeZone, buildGrid, consultaIdsOf, type StreamEvent } from './grid.js';
import { applyBatch, FrameBatch, IdBatcher, LoadCoalescer, type LiveDay, type Vaga } from './live.js';

export type { Vaga };
export type LiveState = 'conectando' | 'ao-vivo' | 'reconectando';
export const liveState = signal<LiveState>('conectando');

/**
 * The clinic's IANA zone. Only the API knows it (every agenda answer carries `timezone`; nothing earlier does),
 * so until the first answer the browser's zone stands in, which is the clinic's for a browser at the front desk.
 */
export const clinicTimezone = signal(browserTimeZone());

type Agenda = z.output<typeof AgendaSchema>;

interface List<T> {
  items: T[];
}

const STREAM_EVENTS = ['horario_reservado', 'horario_ocupado', 'horario_disponivel', 'consulta_status', 'vaga_disponivel', 'agenda_alterada', 'resync'] as const;

/** After a batch of fetches answered, the names and consultas arrive a frame later at most: one render for all. */
const nextFrame = (run: () => void) => requestAnimationFrame(run);
/** Fetches wait a little for the rest of a burst (bookings land about 10–50 ms apart under load). */
const shortly = (run: () => void) => setTimeout(run, 80);
/** Names are fetched one request per paciente (the API has no batch read): a few at a time. */
const NAMES_PER_BATCH = 10;

export function useDay(data: string) {
  const [medicos, setMedicos] = useState<Medico[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [live, setLive] = useState<LiveDay>({ grid: null, consultas: new Map(), vagas: new Map() });
  const [nomes, setNomes] = useState<ReadonlyMap<string, string>>(new Map());
  // The stream's handlers and the loads read the latest state through refs, and write it through `commit`,
  // which updates the ref at once: two batches in one frame must not both start from the same old state.
  const liveRef = useRef(live);
  const nomesRef = useRef(nomes);
  const commit = useCallback((next: LiveDay) => {
    if (next === liveRef.current) return;
    liveRef.current = next;
    setLive(next);
  }, []);
  // Events that arrive while a load is in flight: its snapshot may be older or newer than each of them, so they
  // are replayed on it (each carries its slot's whole state, so replaying what it already shows changes nothing).
  const holding = useRef(true);
  const held = useRef<StreamEvent[]>([]);
  const dataRef = useRef(data);
  dataRef.current = data;

  const names = useMemo(
    () =>
      new IdBatcher(async (pacienteIds) => {
        const missing = pacienteIds.filter((id) => !nomesRef.current.has(id));
        if (missing.length === 0) return;
        const found = await Promise.all(missing.map((id) => api.get<Paciente>(`/pacientes/${encodeURIComponent(id)}`).catch(() => null)));
        const next = new Map(nomesRef.current);
        for (const p of found) if (p) next.set(p.id, p.nome);
        nomesRef.current = next;
        setNomes(next);
      }, nextFrame, NAMES_PER_BATCH),
    [],
  );

  /** Consultas the grid names but the page does not know yet (bookings seen on the stream), a burst at a time. */
  const consultas = useMemo(
    () =>
      new IdBatcher(async (ids) => {
        let missing = ids.filter((id) => !liveRef.current.consultas.has(id));
        if (missing.length === 0) return;
        const found: Array<Consulta | null> = [];
        // Many at once (a burst of bookings): the day's list in one request, not one request per consulta.
        if (missing.length > 3) {
          const wanted = new Set(missing);
          const day = await api.get<List<Consulta>>('/consultas', { query: { de: dataRef.current, ate: dataRef.current, limit: 500 } }).catch(() => ({ items: [] }));
          for (const c of day.items) if (wanted.delete(c.id)) found.push(c);
          missing = [...wanted];
        }
        found.push(...(await Promise.all(missing.map((id) => api.get<Consulta>(`/consultas/${encodeURIComponent(id)}`).catch(() => null)))));
        const current = liveRef.current;
        const next = new Map(current.consultas);
        for (const c of found) if (c && !next.has(c.id)) next.set(c.id, c); // a newer consulta_status may be there already
        commit({ ...current, consultas: next });
        names.add(found.flatMap((c) => (c ? [c.pacienteId] : [])));
      }, shortly),
    [commit, names],
  );

  const applyEvents = useCallback(
    (events: StreamEvent[]) => {
      if (holding.current) {
        held.current.push(...events);
        return;
      }
      const outcome = applyBatch(liveRef.current, events);
      commit(outcome.day);
      if (outcome.consultaIds.length > 0) consultas.add(outcome.consultaIds);
      if (outcome.refetch) loads.request();
    },
    // `loads` is made below (it runs `load`, which needs this); both live as long as the page, and this only
    // reads it when a batch runs, long after.
    [commit, consultas],
  );

  const load = useCallback(
    async (isCurrent: () => boolean) => {
      holding.current = true;
      try {
        const user = currentUser.value;
        const all = await api.get<List<Medico>>('/medicos', { query: { ativo: 'true', limit: 500 } });
        // A médico user sees only its own column (the API would refuse the others anyway).
        const shown = user?.papel === 'medico' ? all.items.filter((m) => m.id === user.medicoId) : all.items;
        const [agendas, day] = await Promise.all([
          Promise.all(shown.map((m) => api.get<Agenda>(`/medicos/${encodeURIComponent(m.id)}/agenda`, { query: { data } }))),
          api.get<List<Consulta>>('/consultas', { query: { de: data, ate: data, limit: 500 } }),
        ]);
        if (!isCurrent()) return; // another day was chosen meanwhile: its load holds the events
        if (agendas[0]) clinicTimezone.value = agendas[0].timezone;
        const snapshot: LiveDay = {
          grid: buildGrid(data, shown, agendas, clinicTimezone.value),
          consultas: new Map(day.items.map((c) => [c.id, c])),
          vagas: liveRef.current.vagas,
        };
        const replayed = applyBatch(snapshot, held.current.splice(0));
        holding.current = false;
        setMedicos(shown);
        commit(replayed.day);
        setProblem(null);
        names.add(day.items.map((c) => c.pacienteId));
        const grid = replayed.day.grid!;
        consultas.add(consultaIdsOf(grid).filter((id) => !replayed.day.consultas.has(id)));
        if (replayed.refetch) loads.request();
      } catch (error) {
        if (!isCurrent()) return;
        // The grid shown (if any) stays, brought up to date with what the stream said meanwhile.
        holding.current = false;
        applyEvents(held.current.splice(0));
        setProblem(problemOf(error));
      }
    },
    [data, commit, names, consultas, applyEvents],
  );
  const loadRef = useRef(load);
  loadRef.current = load;
  const loads = useMemo(() => new LoadCoalescer((isCurrent) => loadRef.current(isCurrent)), []);

  useEffect(() => {
    commit({ ...liveRef.current, grid: null });
    loads.restart();
  }, [data, commit, loads]);

  // The stream lives as long as the page.
  useEffect(() => {
    let source: EventSource | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let hadError = false;
    let closed = false;
    const batch = new FrameBatch<StreamEvent>((events) => applyEvents(events), nextFrame);

    const onEvent = (type: StreamEvent['type']) => (message: MessageEvent<string>) => {
      try {
        const payload = message.data ? (JSON.parse(message.data) as Record<string, unknown>) : {};
        batch.push({ ...payload, type } as StreamEvent);
      } catch {
        // not JSON: not an event of ours
      }
    };

    const connect = () => {
      if (closed) return;
      source = new EventSource('/sistema/agenda/stream', { withCredentials: true });
      for (const type of STREAM_EVENTS) source.addEventListener(type, onEvent(type) as EventListener);
      source.onopen = () => {
        liveState.value = 'ao-vivo';
        // Events may have been missed while away: the day is fetched again once the stream is back.
        if (hadError) loads.request();
        hadError = false;
      };
      source.onerror = () => {
        hadError = true;
        liveState.value = 'reconectando';
        // The browser retries by itself unless the answer was not a stream (a 401, a 503 during restart):
        // then it gives up (CLOSED) and a new EventSource is opened after a pause.
        if (source?.readyState === EventSource.CLOSED) {
          source.close();
          retryTimer = setTimeout(connect, 3000);
        }
      };
    };
    connect();
    return () => {
      closed = true;
      batch.close();
      clearTimeout(retryTimer);
      source?.close();
      liveState.value = 'conectando';
    };
  }, [applyEvents, loads]);

  const dismissVaga = useCallback(
    (listaEsperaId: string) => {
      const current = liveRef.current;
      if (!current.vagas.has(listaEsperaId)) return;
      const vagas = new Map(current.vagas);
      vagas.delete(listaEsperaId);
      commit({ ...current, vagas });
    },
    [commit],
  );
  const reload = useCallback(() => loads.request(), [loads]);

  return { grid: live.grid, medicos, problem, consultas: live.consultas, nomes, vagas: live.vagas, reload, dismissVaga };
}
