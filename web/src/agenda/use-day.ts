/**
 * The day view's state: fetches the médicos, their agendas and the day's consultas (with their pacientes'
 * names), then keeps it current from the agenda stream. Slot events change the grid in place; `resync`,
 * `agenda_alterada` and every reconnection refetch the day.
 */
import { signal } from '@preact/signals';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { Agenda as AgendaSchema } from '../../../src/schemas/agenda.schema.js';
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import type { Medico } from '../../../src/schemas/medico.schema.js';
import type { Paciente } from '../../../src/schemas/paciente.schema.js';
import { api } from '../api.js';
import { problemOf, type Problem } from '../problem.js';
import { currentUser } from '../session.js';
import { applyEvent, buildGrid, consultaIdsOf, sameInstant, type DayGrid, type StreamEvent } from './grid.js';

export type LiveState = 'conectando' | 'ao-vivo' | 'reconectando';
export const liveState = signal<LiveState>('conectando');

/** A waiting-list entry a freed slot now serves (`vaga_disponivel`). */
export interface Vaga {
  medicoId: string;
  inicio: string;
  fim: string;
}

type Agenda = z.output<typeof AgendaSchema>;

interface List<T> {
  items: T[];
}

const STREAM_EVENTS = ['horario_reservado', 'horario_ocupado', 'horario_disponivel', 'consulta_status', 'vaga_disponivel', 'agenda_alterada', 'resync'] as const;

export function useDay(data: string) {
  const [grid, setGrid] = useState<DayGrid | null>(null);
  const [medicos, setMedicos] = useState<Medico[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [consultas, setConsultas] = useState<ReadonlyMap<string, Consulta>>(new Map());
  const [nomes, setNomes] = useState<ReadonlyMap<string, string>>(new Map());
  const [vagas, setVagas] = useState<ReadonlyMap<string, Vaga>>(new Map());
  const gridRef = useRef<DayGrid | null>(null);
  gridRef.current = grid;
  const consultasRef = useRef(consultas);
  consultasRef.current = consultas;
  const nomesRef = useRef(nomes);
  nomesRef.current = nomes;
  const loadSeq = useRef(0);
  // An event that arrives while a load is in flight may be older or newer than the load's snapshot: the
  // snapshot would overwrite it. Such an event marks the load stale, and a stale load loads again.
  const loading = useRef(false);
  const stale = useRef(false);

  /** Fetches the pacientes' names the grid lacks (one request per paciente, cached for the page). */
  const fetchNames = useCallback(async (pacienteIds: string[]) => {
    const missing = [...new Set(pacienteIds)].filter((id) => !nomesRef.current.has(id));
    if (missing.length === 0) return;
    const found = await Promise.all(missing.map((id) => api.get<Paciente>(`/pacientes/${encodeURIComponent(id)}`).catch(() => null)));
    setNomes((old) => {
      const next = new Map(old);
      for (const p of found) if (p) next.set(p.id, p.nome);
      return next;
    });
  }, []);

  /** Fetches consultas the grid names but the page does not know yet (a booking seen on the stream). */
  const fetchConsultas = useCallback(
    async (ids: string[]) => {
      const missing = ids.filter((id) => !consultasRef.current.has(id));
      if (missing.length === 0) return;
      const found = await Promise.all(missing.map((id) => api.get<Consulta>(`/consultas/${encodeURIComponent(id)}`).catch(() => null)));
      setConsultas((old) => {
        const next = new Map(old);
        for (const c of found) if (c) next.set(c.id, c);
        return next;
      });
      await fetchNames(found.flatMap((c) => (c ? [c.pacienteId] : [])));
    },
    [fetchNames],
  );

  const load = useCallback(async () => {
    const seq = ++loadSeq.current;
    loading.current = true;
    stale.current = false;
    try {
      const user = currentUser.value;
      const all = await api.get<List<Medico>>('/medicos', { query: { ativo: 'true', limit: 500 } });
      // A médico user sees only its own column (the API would refuse the others anyway).
      const shown = user?.papel === 'medico' ? all.items.filter((m) => m.id === user.medicoId) : all.items;
      const [agendas, day] = await Promise.all([
        Promise.all(shown.map((m) => api.get<Agenda>(`/medicos/${encodeURIComponent(m.id)}/agenda`, { query: { data } }))),
        api.get<List<Consulta>>('/consultas', { query: { de: data, ate: data, limit: 500 } }),
      ]);
      if (seq !== loadSeq.current) return; // a newer load (another day, another event) won
      loading.current = false;
      if (stale.current) {
        void load();
        return;
      }
      setMedicos(shown);
      const next = buildGrid(data, shown, agendas);
      setGrid(next);
      setConsultas(new Map(day.items.map((c) => [c.id, c])));
      setProblem(null);
      await fetchNames(day.items.map((c) => c.pacienteId));
      const unknown = consultaIdsOf(next).filter((id) => !day.items.some((c) => c.id === id));
      if (unknown.length > 0) await fetchConsultas(unknown);
    } catch (error) {
      if (seq === loadSeq.current) {
        loading.current = false;
        setProblem(problemOf(error));
      }
    }
  }, [data, fetchNames, fetchConsultas]);

  useEffect(() => {
    setGrid(null);
    void load();
  }, [load]);

  // The stream lives as long as the page; its handlers read the current grid through refs.
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let source: EventSource | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let hadError = false;
    let closed = false;

    const onEvent = (type: StreamEvent['type']) => (message: MessageEvent<string>) => {
      let payload: Record<string, unknown>;
      try {
        payload = message.data ? (JSON.parse(message.data) as Record<string, unknown>) : {};
      } catch {
        return;
      }
      const event = { ...payload, type } as StreamEvent;
      if (loading.current) stale.current = true;
      if (event.type === 'vaga_disponivel') {
        setVagas((old) => {
          const next = new Map(old);
          for (const id of event.listaEsperaIds) next.set(id, { medicoId: event.medicoId, inicio: event.inicio, fim: event.fim });
          return next;
        });
        return;
      }
      if (event.type === 'horario_ocupado') {
        // The vaga was taken (here or elsewhere): its waiting-list entries stop offering it.
        setVagas((old) => {
          const taken = [...old].filter(([, v]) => v.medicoId === event.medicoId && sameInstant(v.inicio, event.inicio));
          if (taken.length === 0) return old;
          const next = new Map(old);
          for (const [id] of taken) next.delete(id);
          return next;
        });
      }
      if (event.type === 'consulta_status') {
        setConsultas((old) => {
          const c = old.get(event.consultaId);
          if (!c) return old;
          const next = new Map(old);
          next.set(c.id, { ...c, status: event.status, inicio: event.inicio, fim: event.fim });
          return next;
        });
      }
      const current = gridRef.current;
      if (!current) return;
      const outcome = applyEvent(current, event);
      if (outcome.kind === 'refetch') void loadRef.current();
      else if (outcome.kind === 'update') {
        gridRef.current = outcome.grid;
        setGrid(outcome.grid);
        const id = 'consultaId' in event ? event.consultaId : undefined;
        if (id) void fetchConsultas([id]);
      }
    };

    const connect = () => {
      if (closed) return;
      source = new EventSource('/sistema/agenda/stream', { withCredentials: true });
      for (const type of STREAM_EVENTS) source.addEventListener(type, onEvent(type) as EventListener);
      source.onopen = () => {
        liveState.value = 'ao-vivo';
        // Events may have been missed while away: the day is fetched again once the stream is back.
        if (hadError) void loadRef.current();
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
      clearTimeout(retryTimer);
      source?.close();
      liveState.value = 'conectando';
    };
  }, [fetchConsultas]);

  const dismissVaga = useCallback((listaEsperaId: string) => {
    setVagas((old) => {
      const next = new Map(old);
      next.delete(listaEsperaId);
      return next;
    });
  }, []);

  return { grid, medicos, problem, consultas, nomes, vagas, reload: load, dismissVaga };
}
