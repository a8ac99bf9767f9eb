/** `Relatórios`: generate a PDF of a period (a task, with its progress), then download it; earlier ones below. */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { Medico } from '../../../../src/schemas/medico.schema.js';
import type { ReportInfo as ReportInfoSchema } from '../../../../src/schemas/operations.schema.js';
import { api, idempotencyKey } from '../../api.js';
import { InputField, SelectField } from '../../components/field.js';
import { FileTable } from '../../components/file-table.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { type Task } from './admin-logic.js';
import { TaskProgress } from './task-progress.js';
import { useTask } from './use-task.js';

type ReportInfo = z.output<typeof ReportInfoSchema>;
const FIELDS = ['de', 'ate', 'medicoId'] as const;

const reportUrl = (nome: string) => `/sistema/relatorios/${encodeURIComponent(nome)}`;

interface Gerado {
  nome?: string;
  paginas?: number;
  consultas?: number;
}

/** The outcome line of a generation, in the page's status region. */
const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const readyText = (g: Gerado) =>
  `Relatório pronto${g.paginas !== undefined ? `: ${count(g.paginas, 'página', 'páginas')}, ${count(g.consultas ?? 0, 'consulta', 'consultas')}` : ''}.`;

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
  const gerado = task?.status === 'concluida' ? (task.resultado as Gerado | undefined) : undefined;

  return (
    <main>
      <h1>Relatórios</h1>
      <form class="card form-grid admin-grid" onSubmit={generate} noValidate>
        <InputField label="De" type="date" value={de} onValue={setDe} error={errors['de']} hint="Padrão: início do mês corrente." />
        <InputField label="Até" type="date" value={ate} onValue={setAte} error={errors['ate']} hint="Padrão: fim do mês de “De”; no máximo 366 dias." />
        <SelectField
          label="Médico"
          value={medicoId}
          onValue={setMedicoId}
          emptyLabel="Todos"
          options={medicos.map((m) => ({ value: m.id, label: m.nome }))}
          error={errors['medicoId']}
        />
        <div class="actions">
          <button type="submit" class="primary" disabled={generation.running}>
            Gerar relatório
          </button>
        </div>
      </form>
      <section aria-label="Relatório pedido" class="task-area">
        <TaskProgress run={generation} label="Progresso do relatório" doneText={gerado?.nome ? readyText(gerado) : undefined} />
        {gerado?.nome && (
          <p>
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
      {reports && <FileTable caption="Relatórios gerados, mais novos primeiro" files={reports} href={reportUrl} dateHeader="Gerado em" empty="Nenhum relatório gerado ainda." />}
    </main>
  );
}
