/**
 * `Logs`: the server's recent entries, then live ones from `/sistema/logs/stream` (the session cookie goes
 * with the EventSource), newest first, at most {@link LOG_BUFFER_MAX} kept, filtered by minimum level.
 */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { TableHead, TableScroll } from '../../components/table-scroll.js';
import { problemOf, type Problem } from '../../problem.js';
import { atLeast, LOG_BUFFER_MAX, LOG_LEVEL_NAMES, LOG_LEVEL_ORDER, logDetails, logTime, pushLogs, type LogLevel, type LogLine } from './admin-logic.js';

type Connection = 'conectando' | 'ao-vivo' | 'reconectando' | 'pausado' | 'desconectado';

const CONNECTION_TEXT: Record<Connection, string> = {
  conectando: 'Conectando…',
  'ao-vivo': 'Ao vivo',
  reconectando: 'Reconectando…',
  pausado: 'Pausado',
  desconectado: 'Desconectado: use Retomar para tentar de novo',
};

export function LogsPage() {
  const [entries, setEntries] = useState<LogLine[]>([]);
  const [nivel, setNivel] = useState<LogLevel>('info');
  const [paused, setPaused] = useState(false);
  const [connection, setConnection] = useState<Connection>('conectando');
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    if (paused) {
      setConnection((c) => (c === 'desconectado' ? c : 'pausado'));
      return;
    }
    let closed = false;
    // The recent entries first, so the page is not empty until the next request is logged.
    api
      .get<{ items: LogLine[] }>('/sistema/logs', { query: { limit: LOG_BUFFER_MAX } })
      .then((r) => !closed && setEntries((current) => (current.length === 0 ? pushLogs([], r.items) : current)))
      .catch((error: unknown) => !closed && setProblem(problemOf(error)));

    const source = new EventSource('/sistema/logs/stream', { withCredentials: true });
    // Entries come in batches of events; gathering them per animation frame keeps a busy log from
    // re-rendering the table hundreds of times a second.
    let pending: LogLine[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setEntries((current) => pushLogs(current, batch));
    };
    source.addEventListener('log', (event) => {
      try {
        pending.push(JSON.parse((event as MessageEvent<string>).data) as LogLine);
      } catch {
        return; // Not JSON: nothing to show.
      }
      if (!frame) frame = requestAnimationFrame(flush);
    });
    source.onopen = () => {
      setConnection('ao-vivo');
      setProblem(null);
    };
    // The browser reconnects by itself (with Last-Event-ID); the page only says so.
    // A refused stream (503 past the client limit, 401 once the session ended) is closed for good: the
    // browser gives up, and so does the page until the user asks again.
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) return setConnection('reconectando');
      setConnection('desconectado');
      setPaused(true);
    };
    return () => {
      closed = true;
      source.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [paused]);

  const shown = entries.filter((e) => atLeast(e, nivel));

  return (
    <main>
      <div class="toolbar">
        <h1>Logs</h1>
        <label>
          Nível mínimo{' '}
          <select value={nivel} onChange={(e) => setNivel(e.currentTarget.value as LogLevel)}>
            {LOG_LEVEL_ORDER.map((l) => (
              <option key={l} value={l}>
                {LOG_LEVEL_NAMES[l]}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Retomar' : 'Pausar'}
        </button>
        <button type="button" onClick={() => setEntries([])}>
          Limpar
        </button>
        <span role="status" class={`live-status live-${connection}`}>
          {CONNECTION_TEXT[connection]}
        </span>
      </div>
      <ProblemMessage problem={problem} />
      <p class="notice">
        {shown.length} de {entries.length} entradas (as {LOG_BUFFER_MAX} mais recentes), mais novas primeiro.
      </p>
      {shown.length > 0 && (
        <TableScroll label="Entradas do log, mais novas primeiro">
          <table class="logs">
            <caption class="visually-hidden">Entradas do log, mais novas primeiro</caption>
            <TableHead columns={['Hora', 'Nível', 'Mensagem', 'Detalhes']} />
            <tbody>
              {shown.map((e, i) => (
                <tr key={`${e.hora}-${i}-${e.msg}`} data-nivel={e.nivel}>
                  <td class="nowrap" title={e.hora}>
                    {logTime(e.hora)}
                  </td>
                  <td>
                    <span class={`log-level log-${e.nivel}`}>{LOG_LEVEL_NAMES[e.nivel as LogLevel] ?? e.nivel}</span>
                  </td>
                  <td>{e.msg}</td>
                  <td class="log-details">
                    <code>{logDetails(e)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </main>
  );
}
