/** `Usuários`: who signs in. List, create, change papel/ativo, remove; the API's problems shown by field. */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { Medico } from '../../../../src/schemas/medico.schema.js';
import type { Usuario } from '../../../../src/schemas/usuario.schema.js';
import { api, idempotencyKey } from '../../api.js';
import { InputField } from '../../components/field.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { TableHead, TableScroll } from '../../components/table-scroll.js';
import { useAction } from '../../components/use-action.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { currentUser, PAPEL_NOMES } from '../../session.js';
import { bodyOf, EditUsuario, EMPTY, FIELDS, MedicoSelect, PapelSelect, RemoveUsuario, SENHA_MIN, SenhaField, type Draft } from './usuario-dialogs.js';

export function UsuariosPage() {
  const [usuarios, setUsuarios] = useState<Usuario[] | null>(null);
  const [medicos, setMedicos] = useState<Medico[]>([]);
  const [loadProblem, setLoadProblem] = useState<Problem | null>(null);
  const [editing, setEditing] = useState<Usuario | null>(null);
  const [removing, setRemoving] = useState<Usuario | null>(null);
  const [notice, setNotice] = useState('');

  const load = async () => {
    try {
      const [u, m] = await Promise.all([
        api.get<{ items: Usuario[] }>('/usuarios', { query: { limit: 500 } }),
        api.get<{ items: Medico[] }>('/medicos', { query: { limit: 500 } }),
      ]);
      setUsuarios(u.items);
      setMedicos(m.items);
      setLoadProblem(null);
    } catch (error) {
      setLoadProblem(problemOf(error));
    }
  };
  useEffect(() => void load(), []);

  const medicoNome = (id: string | null | undefined) => (id ? (medicos.find((m) => m.id === id)?.nome ?? id) : '—');

  return (
    <main>
      <h1>Usuários</h1>
      <ProblemMessage problem={loadProblem} />
      <p role="status" class="notice">
        {notice}
      </p>
      {usuarios && (
        <TableScroll label="Usuários cadastrados">
          <table>
            <caption class="visually-hidden">Usuários cadastrados</caption>
            <TableHead columns={['Nome', 'E-mail', 'Papel', 'Médico', 'Situação']} actions />
            <tbody>
              {usuarios.map((u) => (
                <tr key={u.id} data-usuario-id={u.id}>
                  <td>{u.nome}</td>
                  <td>{u.email}</td>
                  <td>{PAPEL_NOMES[u.papel]}</td>
                  <td>{u.papel === 'medico' ? medicoNome(u.medicoId) : '—'}</td>
                  <td>{u.ativo ? 'Ativo' : 'Inativo'}</td>
                  <td class="row-actions">
                    <button type="button" aria-label={`Editar ${u.nome}`} onClick={() => setEditing(u)}>
                      Editar
                    </button>{' '}
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Remover ${u.nome}`}
                      // Removing oneself would end this session mid-page; the API also refuses the last admin.
                      disabled={u.id === currentUser.value?.id}
                      onClick={() => setRemoving(u)}
                    >
                      Remover
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <NovoUsuario
        medicos={medicos}
        onCreated={(u) => {
          setNotice(`Usuário ${u.nome} criado.`);
          void load();
        }}
      />
      {editing && (
        <EditUsuario
          usuario={editing}
          medicos={medicos}
          onClose={() => setEditing(null)}
          onSaved={(u) => {
            setEditing(null);
            setNotice(`Usuário ${u.nome} atualizado.`);
            void load();
          }}
        />
      )}
      {removing && (
        <RemoveUsuario
          usuario={removing}
          onClose={() => setRemoving(null)}
          onRemoved={() => {
            setNotice(`Usuário ${removing.nome} removido.`);
            setRemoving(null);
            void load();
          }}
        />
      )}
    </main>
  );
}

function NovoUsuario({ medicos, onCreated }: { medicos: Medico[]; onCreated: (u: Usuario) => void }) {
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const { busy, problem, run } = useAction();
  const errors = fieldErrors(problem, FIELDS);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const created = await api.post<Usuario>('/usuarios', bodyOf(draft, true), { headers: { 'Idempotency-Key': idempotencyKey() } });
      setDraft(EMPTY);
      onCreated(created);
    });
  };

  return (
    <section class="card admin-form" aria-labelledby="novo-usuario-titulo">
      <h2 id="novo-usuario-titulo">Novo usuário</h2>
      <form class="form-grid admin-grid" onSubmit={submit} noValidate>
        <InputField label="Nome" value={draft.nome} onValue={(v) => set('nome', v)} autoComplete="off" error={errors['nome']} />
        <InputField label="E-mail" type="email" value={draft.email} onValue={(v) => set('email', v)} autoComplete="off" error={errors['email']} />
        <SenhaField label="Senha" hint={`Ao menos ${SENHA_MIN} caracteres.`} value={draft.senha} error={errors['senha']} onValue={(v) => set('senha', v)} />
        <PapelSelect value={draft.papel} error={errors['papel']} onChange={(p) => set('papel', p)} />
        {draft.papel === 'medico' && <MedicoSelect medicos={medicos} value={draft.medicoId} error={errors['medicoId']} onChange={(id) => set('medicoId', id)} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Criar usuário
          </button>
        </div>
      </form>
      <ProblemMessage problem={problem} fields={FIELDS} />
    </section>
  );
}

