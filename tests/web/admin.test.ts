import { describe, expect, it } from 'vitest';
import {
  atLeast,
  auditQuery,
  EMPTY_AUDIT_FILTERS,
  formatBytes,
  logDetails,
  logTime,
  pageLabel,
  pollTask,
  progressValue,
  pushLogs,
  taskFinished,
  taskStatusText,
  type LogLine,
  type Task,
} from '../../web/src/pages/admin/admin-logic.js';

const task = (over: Partial<Task>): Task => ({
  id: '00000000-0000-4000-8000-000000000001',
  tipo: 'gerar_relatorio',
  status: 'pendente',
  progresso: 0,
  criadaEm: '2026-12-01T10:00:00-03:00',
  ...over,
});

describe('following a task', () => {
  it('when a task is queued, then it polls until concluida and reports every state seen', async () => {
    const states = [task({ status: 'executando', progresso: 40 }), task({ status: 'executando', progresso: 90 }), task({ status: 'concluida', progresso: 100, resultado: { nome: 'r.pdf' } })];
    const fetched: string[] = [];
    const seen: Task[] = [];
    const waits: number[] = [];
    const final = await pollTask(task({}), {
      fetchTask: async (id) => {
        fetched.push(id);
        return states.shift()!;
      },
      onUpdate: (t) => seen.push(t),
      intervalMs: 250,
      sleep: async (ms) => void waits.push(ms),
    });
    expect(final.status).toBe('concluida');
    expect(final.resultado).toEqual({ nome: 'r.pdf' });
    expect(fetched).toHaveLength(3);
    expect(seen.map((t) => t.progresso)).toEqual([0, 40, 90, 100]);
    expect(waits).toEqual([250, 250, 250]);
  });

  it('when the task fails, then polling stops at falhou', async () => {
    let calls = 0;
    const final = await pollTask(task({ status: 'executando', progresso: 10 }), {
      fetchTask: async () => {
        calls++;
        return task({ status: 'falhou', erro: { type: '/problemas/x', title: 'Erro', status: 500, detail: 'Disco cheio.' } });
      },
      sleep: async () => undefined,
    });
    expect(final.status).toBe('falhou');
    expect(calls).toBe(1);
  });

  it('when the first answer is already concluida, then nothing is fetched', async () => {
    const final = await pollTask(task({ status: 'concluida', progresso: 100 }), {
      fetchTask: () => Promise.reject(new Error('não deveria buscar')),
      sleep: () => Promise.reject(new Error('não deveria esperar')),
    });
    expect(final.status).toBe('concluida');
  });

  it('when the page is left mid-task, then the wait is aborted and nothing more is fetched', async () => {
    const controller = new AbortController();
    let calls = 0;
    const waiting = pollTask(task({}), {
      fetchTask: async () => {
        calls++;
        return task({ status: 'executando', progresso: 5 });
      },
      intervalMs: 20,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 70);
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    const after = calls;
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(after);
    expect(after).toBeGreaterThanOrEqual(1);
  });

  it('when a task has not reported progress, then the bar is indeterminate; once it has, it shows the percentage', () => {
    expect(progressValue(task({ status: 'pendente' }))).toBeUndefined();
    expect(progressValue(task({ status: 'executando', progresso: 0 }))).toBeUndefined();
    expect(progressValue(task({ status: 'executando', progresso: 37 }))).toBe(37);
    expect(progressValue(task({ status: 'concluida', progresso: 100 }))).toBe(100);
    expect(taskStatusText(task({ status: 'executando', progresso: 37 }))).toBe('Em andamento: 37%');
    expect(taskStatusText(task({ status: 'pendente' }))).toBe('Na fila…');
    expect(taskFinished(task({ status: 'executando' }))).toBe(false);
    expect(taskFinished(task({ status: 'falhou' }))).toBe(true);
  });
});

describe('the live log', () => {
  const line = (n: number, nivel = 'info'): LogLine => ({ hora: `10:00:${String(n).padStart(2, '0')}`, nivel, msg: `m${n}` });

  it('when entries arrive oldest first, then the list is newest first', () => {
    const list = pushLogs([line(1)], [line(2), line(3)]);
    expect(list.map((l) => l.msg)).toEqual(['m3', 'm2', 'm1']);
  });

  it('when more entries arrive than the bound, then only the newest are kept', () => {
    let list: LogLine[] = [];
    for (let batch = 0; batch < 10; batch++) list = pushLogs(list, Array.from({ length: 7 }, (_, i) => line(batch * 7 + i)), 20);
    expect(list).toHaveLength(20);
    expect(list[0]!.msg).toBe('m69');
    expect(list[19]!.msg).toBe('m50');
    // One batch larger than the bound on its own also stays within it.
    const big = pushLogs(list, Array.from({ length: 50 }, (_, i) => line(100 + i)), 20);
    expect(big.map((l) => l.msg)).toEqual(Array.from({ length: 20 }, (_, i) => `m${149 - i}`));
  });

  it('when filtering by minimum level, then less severe entries are hidden and unknown levels shown', () => {
    expect(atLeast(line(1, 'debug'), 'info')).toBe(false);
    expect(atLeast(line(1, 'info'), 'info')).toBe(true);
    expect(atLeast(line(1, 'error'), 'warn')).toBe(true);
    expect(atLeast(line(1, 'estranho'), 'fatal')).toBe(true);
  });

  it('when a time comes with its offset, then its own digits are shown, day first', () => {
    expect(logTime('2026-11-30T22:20:47.191-03:00')).toBe('30/11 22:20:47.191');
    expect(logTime('sem hora')).toBe('sem hora');
  });

  it('when an entry has extra fields, then they are shown as chave=valor', () => {
    expect(logDetails({ hora: 'h', nivel: 'info', msg: 'm', status: 200, req: { url: '/x' }, relatorio: 'r.pdf' })).toBe('status=200 req={"url":"/x"} relatorio=r.pdf');
  });
});

describe('the audit filters', () => {
  it('when no filter is set, then only the page goes in the query', () => {
    const q = auditQuery(EMPTY_AUDIT_FILTERS, { limit: 50, offset: 100 });
    expect(Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined))).toEqual({ limit: 50, offset: 100 });
  });

  it('when filters are typed, then they are trimmed and the days cover De 00:00 to Até 23:59:59.999 local time', () => {
    const q = auditQuery({ usuarioId: ' u1 ', pacienteId: 'p1', acao: 'usuario.criar ', de: '2026-12-01', ate: '2026-12-03' }, { limit: 50, offset: 0 });
    expect(q).toMatchObject({ usuarioId: 'u1', pacienteId: 'p1', acao: 'usuario.criar' });
    const de = new Date(q['de'] as string);
    const ate = new Date(q['ate'] as string);
    expect([de.getFullYear(), de.getMonth(), de.getDate(), de.getHours(), de.getMinutes()]).toEqual([2026, 11, 1, 0, 0]);
    expect([ate.getFullYear(), ate.getMonth(), ate.getDate(), ate.getHours(), ate.getMinutes(), ate.getSeconds(), ate.getMilliseconds()]).toEqual([2026, 11, 3, 23, 59, 59, 999]);
    expect(ate.getTime() - de.getTime()).toBe(3 * 86_400_000 - 1);
  });

  it('when a date is not a date, then it is left out rather than sent as garbage', () => {
    expect(auditQuery({ ...EMPTY_AUDIT_FILTERS, de: 'ontem' }, { limit: 10, offset: 0 })['de']).toBeUndefined();
  });

  it('when a page is shown, then its label counts from 1', () => {
    expect(pageLabel({ offset: 50, count: 50, total: 120 })).toBe('51–100 de 120');
    expect(pageLabel({ offset: 0, count: 0, total: 0 })).toBe('Nenhuma entrada');
  });
});

describe('file sizes', () => {
  it('when sizes grow, then units change and decimals use a comma', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1,5 KB');
    expect(formatBytes(15 * 1024 * 1024)).toBe('15 MB');
  });
});
