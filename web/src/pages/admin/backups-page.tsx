/**
 * `Backups`: create one (a task, followed to its end), download any (a plain link: the session cookie
 * authorises it), restore one behind a typed confirmation, since a restore replaces every record.
 */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { BackupInfo as BackupInfoSchema, RestoreResult as RestoreResultSchema } from '../../../../src/schemas/operations.schema.js';
import { api } from '../../api.js';
import { Dialog } from '../../components/dialog.js';
import { DialogFooter } from '../../components/dialog-footer.js';
import { InputField } from '../../components/field.js';
import { FileTable } from '../../components/file-table.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { useAction } from '../../components/use-action.js';
import { problemOf, type Problem } from '../../problem.js';
import { formatInstant, restoredRows, type Task } from './admin-logic.js';
import { TaskProgress } from './task-progress.js';
import { useTask } from './use-task.js';

type BackupInfo = z.output<typeof BackupInfoSchema>;
type RestoreResult = z.output<typeof RestoreResultSchema>;

const backupUrl = (nome: string) => `/sistema/backups/${encodeURIComponent(nome)}`;

export function BackupsPage() {
  const [backups, setBackups] = useState<BackupInfo[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [restoring, setRestoring] = useState<BackupInfo | null>(null);
  const creation = useTask();

  const load = async () => {
    try {
      setBackups(await api.get<BackupInfo[]>('/sistema/backups'));
      setProblem(null);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  useEffect(() => void load(), []);

  const create = async () => {
    const done = await creation.run(() => api.post<Task>('/sistema/tasks/backup'));
    if (done) await load();
  };
  const task = creation.task;
  const created = task?.status === 'concluida' ? (task.resultado as Partial<BackupInfo> | undefined) : undefined;

  return (
    <main>
      <div class="toolbar">
        <h1>Backups</h1>
        <button type="button" class="primary" disabled={creation.running} onClick={() => void create()}>
          Criar backup
        </button>
      </div>
      <TaskProgress run={creation} label="Progresso do backup" doneText={created?.nome ? `Backup ${created.nome} criado.` : undefined} />
      {task?.status === 'falhou' && task.erro && <ProblemMessage problem={{ ...task.erro, errors: [] }} />}
      <ProblemMessage problem={creation.problem ?? problem} />
      {backups && (
        <FileTable
          caption="Backups, mais novos primeiro"
          files={backups}
          href={backupUrl}
          dateHeader="Criado em"
          empty="Nenhum backup ainda."
          columns={[{ header: 'Tipo', cell: (b) => `${b.automatico ? 'Automático' : 'Manual'}${b.criptografado ? ', criptografado' : ''}` }]}
          actions={(b) => (
            <button type="button" class="danger" aria-label={`Restaurar ${b.nome}`} onClick={() => setRestoring(b)}>
              Restaurar
            </button>
          )}
        />
      )}
      {restoring && (
        <RestoreDialog
          backup={restoring}
          onClose={() => {
            setRestoring(null);
            // Refreshed only now: a restore may have replaced the sessions, and a 401 here would swap the
            // dialog's result for the sign-in screen before the user read it.
            void load();
          }}
        />
      )}
    </main>
  );
}

function RestoreDialog({ backup, onClose }: { backup: BackupInfo; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const { busy, problem, run } = useAction();
  const [result, setResult] = useState<RestoreResult | null>(null);
  const matches = typed.trim() === backup.nome;

  const restore = (event: Event) => {
    event.preventDefault();
    if (matches) void run(async () => setResult(await api.post<RestoreResult>(`/sistema/backups/${encodeURIComponent(backup.nome)}/restaurar`)));
  };

  return (
    <Dialog title="Restaurar backup" onClose={onClose}>
      {result ? (
        <RestoreSummary result={result} onClose={onClose} />
      ) : (
        <form class="admin-dialog-form" onSubmit={restore}>
          <p>
            Todos os dados atuais serão substituídos pelos do backup <code>{backup.nome}</code> ({formatInstant(backup.criadoEm)}). Antes disso, um
            backup de segurança dos dados atuais é criado.
          </p>
          <InputField label="Digite o nome do backup para confirmar" value={typed} onValue={setTyped} autoComplete="off" spellcheck={false} />
          <ProblemMessage problem={problem} />
          <DialogFooter primary={busy ? 'Restaurando…' : 'Restaurar'} tone="danger" disabled={!matches || busy} onCancel={onClose} />
        </form>
      )}
    </Dialog>
  );
}

/** What a restore brought back, per kind of record in pt-BR (the system's own bookkeeping left out). */
function RestoreSummary({ result, onClose }: { result: RestoreResult; onClose: () => void }) {
  return (
    <div>
      <p role="status">
        Backup <code>{result.restaurado}</code> restaurado. Os dados anteriores foram guardados em <code>{result.backupDeSeguranca}</code>.
      </p>
      <table>
        <caption>Registros restaurados</caption>
        <thead>
          <tr>
            <th scope="col">Dados</th>
            <th scope="col">Registros</th>
          </tr>
        </thead>
        <tbody>
          {restoredRows(result.contagens).map((row) => (
            <tr key={row.colecao} data-colecao={row.colecao}>
              <td>{row.rotulo}</td>
              <td>{row.registros.toLocaleString('pt-BR')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="actions">
        <button type="button" class="primary" onClick={onClose}>
          Concluir
        </button>
      </div>
    </div>
  );
}
