/** `Relatórios`: generate a PDF of a period (a task, with its progress), then download it; earlier ones below. */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { Medico } from '../../../../src/schemas/medico.schema.js';
import type { ReportInfo as ReportInfoSchema } from '../../../../src/schemas/operations.schema.js';
import { api, idempotencyKey } from '../../api.js';
import { Field, ProblemMessage } from '../../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { formatBytes, formatInstant, type Task } from './admin-logic.js';
import { TableScroll } from './table-scroll.js';
import { TaskProgress } from './task-progress.js';
import { useTask } from './use-task.js';

type ReportInfo = z.output<typeof ReportInfoSchema>;
const FIELDS = ['de', 'ate', 'medicoId'] as const;

const reportUrl = (nome: string) => `/sistema/relatorios/${encodeURIComponent(nome)}`;

export function RelatoriosPage() {
  const [de, setDe] = useState('');
  const [ate, setAte] = useState('');
  const [medicoId, setMedicoId] = useState('');
  const [medicos, setMedicos] = useState<Medico[]>([]);
  const [reports, setReports] = useState<ReportInfo[] | null>(null);
  const [loadProblem, setLoadProblem] = useState<Problem | null>(null);
  const generation = useTask();
  const errors = fieldErrors(generation.problem, FIELDS);

  const loadReports = async () => {
    try {
      setReports(await api.get<ReportInfo[]>('/sistema/relatorios'));
    } catch (error) {
      setLoadProblem(problemOf(error));
    }
  };
  useEffect(() => {
    void loadReports();
    api
      .get<{ items: Medico[] }>('/medicos', { query: { limit: 500 } })
      .then((r) => setMedicos(r.items))
      .catch((error: unknown) => setLoadProblem(problemOf(error)));
  }, []);

  const generate = async (event: Event) => {
    event.preventDefault();
    const body = { de: de || undefined, ate: ate || undefined, medicoId: medicoId || undefined };
    const done = await generation.run(() => api.post<Task>('/sistema/tasks/relatorio', body, { headers: { 'Idempotency-Key': idempotencyKey() } }));
    if (done?.status === 'concluida') await loadReports();
  };

  const task = generation.task;
  const gerado = task?.status === 'concluida' ? (task.resultado as { nome?: string; paginas?: number; consultas?: number } | undefined) : undefined;

  return (
    <main>
      <h1>Relatórios</h1>
      <form class="card form-grid admin-grid" onSubmit={generate} noValidate>
        <Field label="De" error={errors['de']} hint="Padrão: início do mês corrente.">
          {(a) => <input {...a} type="date" value={de} onInput={(e) => setDe(e.currentTarget.value)} />}
        </Field>
        <Field label="Até" error={errors['ate']} hint="Padrão: fim do mês de “De”; no máximo 366 dias.">
          {(a) => <input {...a} type="date" value={ate} onInput={(e) => setAte(e.currentTarget.value)} />}
        </Field>
        <Field label="Médico" error={errors['medicoId']}>
          {(a) => (
            <select {...a} value={medicoId} onChange={(e) => setMedicoId(e.currentTarget.value)}>
              <option value="">Todos</option>
              {medicos.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.nome}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="primary" disabled={generation.running}>
            Gerar relatório
          </button>
        </div>
      </form>
      <section aria-label="Relatório pedido" class="task-area">
        {task && <TaskProgress task={task} label="Progresso do relatório" />}
        {gerado?.nome && (
          <p>
            Relatório pronto{gerado.paginas !== undefined && `: ${gerado.paginas} página(s), ${gerado.consultas ?? 0} consulta(s)`}.{' '}
            <a class="button primary" href={reportUrl(gerado.nome)} download={gerado.nome}>
              Baixar {gerado.nome}
            </a>
          </p>
        )}
        {task?.status === 'falhou' && task.erro && <ProblemMessage problem={{ ...task.erro, errors: [] }} />}
        <ProblemMessage problem={generation.problem} fields={FIELDS} />
      </section>
      <ProblemMessage problem={loadProblem} />
      <h2>Relatórios gerados</h2>
      {reports && reports.length === 0 && <p class="notice">Nenhum relatório gerado ainda.</p>}
      {reports && reports.length > 0 && (
        <TableScroll label="Relatórios gerados, mais novos primeiro">
          <table>
            <caption class="visually-hidden">Relatórios gerados, mais novos primeiro</caption>
            <thead>
              <tr>
                <th scope="col">Nome</th>
                <th scope="col">Gerado em</th>
                <th scope="col">Tamanho</th>
                <th scope="col">
                  <span class="visually-hidden">Ações</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {reports.map((r) => (
                <tr key={r.nome}>
                  <td>
                    <code>{r.nome}</code>
                  </td>
                  <td>{formatInstant(r.criadoEm)}</td>
                  <td>{formatBytes(r.tamanhoBytes)}</td>
                  <td>
                    <a href={reportUrl(r.nome)} download={r.nome} aria-label={`Baixar ${r.nome}`}>
                      Baixar
                    </a>
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
