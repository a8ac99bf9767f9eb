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
import { Field, ProblemMessage } from '../../components/problem-message.js';
import { problemOf, type Problem } from '../../problem.js';
import { formatBytes, formatInstant, type Task } from './admin-logic.js';
import { TableScroll } from './table-scroll.js';
import { TaskProgress } from './task-progress.js';
import { useTask } from './use-task.js';

type BackupInfo = z.output<typeof BackupInfoSchema>;
type RestoreResult = z.output<typeof RestoreResultSchema>;

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
  const created = creation.task?.status === 'concluida' ? (creation.task.resultado as Partial<BackupInfo> | undefined) : undefined;

  return (
    <main>
      <div class="toolbar">
        <h1>Backups</h1>
        <button type="button" class="primary" disabled={creation.running} onClick={() => void create()}>
          Criar backup
        </button>
      </div>
      {creation.task && <TaskProgress task={creation.task} label="Progresso do backup" />}
      {created?.nome && <p class="notice">Backup {created.nome} criado.</p>}
      {creation.task?.status === 'falhou' && <ProblemMessage problem={{ ...creation.task.erro!, errors: [] }} />}
      <ProblemMessage problem={creation.problem ?? problem} />
      {backups && backups.length === 0 && <p class="notice">Nenhum backup ainda.</p>}
      {backups && backups.length > 0 && (
        <TableScroll label="Backups, mais novos primeiro">
          <table>
            <caption class="visually-hidden">Backups, mais novos primeiro</caption>
            <thead>
              <tr>
                <th scope="col">Nome</th>
                <th scope="col">Criado em</th>
                <th scope="col">Tamanho</th>
                <th scope="col">Tipo</th>
                <th scope="col">
                  <span class="visually-hidden">Ações</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {backups.map((b) => (
                <tr key={b.nome}>
                  <td>
                    <code>{b.nome}</code>
                  </td>
                  <td>{formatInstant(b.criadoEm)}</td>
                  <td>{formatBytes(b.tamanhoBytes)}</td>
                  <td>
                    {b.automatico ? 'Automático' : 'Manual'}
                    {b.criptografado ? ', criptografado' : ''}
                  </td>
                  <td class="row-actions">
                    <a class="button" href={`/sistema/backups/${encodeURIComponent(b.nome)}`} download={b.nome}>
                      Baixar
                    </a>{' '}
                    <button type="button" class="danger" onClick={() => setRestoring(b)}>
                      Restaurar
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
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
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<RestoreResult | null>(null);
  const matches = typed.trim() === backup.nome;

  const restore = async (event: Event) => {
    event.preventDefault();
    if (!matches) return;
    setBusy(true);
    setProblem(null);
    try {
      setResult(await api.post<RestoreResult>(`/sistema/backups/${encodeURIComponent(backup.nome)}/restaurar`));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Restaurar backup" onClose={onClose}>
      {result ? (
        <div>
          <p role="status">
            Backup <code>{result.restaurado}</code> restaurado. Os dados anteriores foram guardados em <code>{result.backupDeSeguranca}</code>.
          </p>
          <table>
            <caption>Registros restaurados</caption>
            <thead>
              <tr>
                <th scope="col">Coleção</th>
                <th scope="col">Registros</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(result.contagens).map(([colecao, n]) => (
                <tr key={colecao}>
                  <td>{colecao}</td>
                  <td>{n}</td>
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
      ) : (
        <form class="admin-dialog-form" onSubmit={restore}>
          <p>
            Todos os dados atuais serão substituídos pelos do backup <code>{backup.nome}</code> ({formatInstant(backup.criadoEm)}). Antes disso, um
            backup de segurança dos dados atuais é criado.
          </p>
          <Field label="Digite o nome do backup para confirmar">
            {(a) => <input {...a} value={typed} autoComplete="off" spellcheck={false} onInput={(e) => setTyped(e.currentTarget.value)} />}
          </Field>
          <ProblemMessage problem={problem} />
          <div class="actions">
            <button type="submit" class="danger" disabled={!matches || busy}>
              {busy ? 'Restaurando…' : 'Restaurar'}
            </button>
            <button type="button" onClick={onClose}>
              Cancelar
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
