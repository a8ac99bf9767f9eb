/** The parts of the Usuários page that edit one user: the form's fields, the edit and remove dialogs. */
import { useState } from 'preact/hooks';
import type { Medico } from '../../../../src/schemas/medico.schema.js';
import type * as UsuarioSchema from '../../../../src/schemas/usuario.schema.js';
import type { Usuario } from '../../../../src/schemas/usuario.schema.js';
import { api } from '../../api.js';
import { Dialog } from '../../components/dialog.js';
import { Field, ProblemMessage } from '../../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { PAPEL_NOMES, type Papel } from '../../session.js';

/** The server's shortest password, typed by its literal (a value import would bring zod into the bundle). */
export const SENHA_MIN: typeof UsuarioSchema.SENHA_MIN = 10;

export const FIELDS = ['nome', 'email', 'senha', 'papel', 'medicoId', 'ativo'] as const;
const PAPEIS = Object.keys(PAPEL_NOMES) as Papel[];

export interface Draft {
  nome: string;
  email: string;
  senha: string;
  papel: Papel;
  medicoId: string;
  ativo: boolean;
}

export const EMPTY: Draft = { nome: '', email: '', senha: '', papel: 'recepcao', medicoId: '', ativo: true };

/** The body of POST/PUT: `medicoId` only for the médico role (the API refuses a médico without one). */
export function bodyOf(d: Draft, withSenha: boolean) {
  return {
    nome: d.nome,
    email: d.email,
    papel: d.papel,
    medicoId: d.papel === 'medico' ? d.medicoId || undefined : null,
    ativo: d.ativo,
    ...(withSenha || d.senha ? { senha: d.senha } : {}),
  };
}

/** The `Médico` select, shown only for the médico role: a médico user sees that médico's agenda only. */
export function MedicoSelect({ medicos, value, error, onChange }: { medicos: Medico[]; value: string; error?: string | undefined; onChange: (id: string) => void }) {
  return (
    <Field label="Médico" error={error}>
      {(a) => (
        <select {...a} required value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          <option value="">Selecione…</option>
          {medicos.map((m) => (
            <option key={m.id} value={m.id}>
              {m.nome} ({m.especialidade})
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function PapelSelect({ value, error, onChange }: { value: Papel; error?: string | undefined; onChange: (p: Papel) => void }) {
  return (
    <Field label="Papel" error={error}>
      {(a) => (
        <select {...a} value={value} onChange={(e) => onChange(e.currentTarget.value as Papel)}>
          {PAPEIS.map((p) => (
            <option key={p} value={p}>
              {PAPEL_NOMES[p]}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function EditUsuario({ usuario, medicos, onClose, onSaved }: { usuario: Usuario; medicos: Medico[]; onClose: () => void; onSaved: (u: Usuario) => void }) {
  const [draft, setDraft] = useState<Draft>({ ...EMPTY, nome: usuario.nome, email: usuario.email, papel: usuario.papel, medicoId: usuario.medicoId ?? '', ativo: usuario.ativo });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(problem, FIELDS);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      onSaved(await api.put<Usuario>(`/usuarios/${encodeURIComponent(usuario.id)}`, bodyOf(draft, false)));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Editar usuário" onClose={onClose}>
      <form class="admin-dialog-form" onSubmit={submit} noValidate>
        <p>
          <strong>{usuario.nome}</strong> — {usuario.email}
        </p>
        <PapelSelect value={draft.papel} error={errors['papel']} onChange={(p) => set('papel', p)} />
        {draft.papel === 'medico' && <MedicoSelect medicos={medicos} value={draft.medicoId} error={errors['medicoId']} onChange={(id) => set('medicoId', id)} />}
        <div class={errors['ativo'] ? 'field field-invalid' : 'field'}>
          <label class="checkbox-label">
            <input type="checkbox" checked={draft.ativo} onChange={(e) => set('ativo', e.currentTarget.checked)} /> Ativo
          </label>
          {errors['ativo'] && <small class="field-error">{errors['ativo']}</small>}
        </div>
        <Field label="Nova senha (opcional)" error={errors['senha']} hint="Em branco, a senha não muda.">
          {(a) => <input {...a} type="password" value={draft.senha} autoComplete="new-password" onInput={(e) => set('senha', e.currentTarget.value)} />}
        </Field>
        <p class="notice">Mudar papel, médico, senha ou desativar encerra as sessões deste usuário.</p>
        <ProblemMessage problem={problem} fields={FIELDS} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Salvar
          </button>
          <button type="button" onClick={onClose}>
            Cancelar
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function RemoveUsuario({ usuario, onClose, onRemoved }: { usuario: Usuario; onClose: () => void; onRemoved: () => void }) {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    try {
      await api.delete(`/usuarios/${encodeURIComponent(usuario.id)}`);
      onRemoved();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Remover usuário" onClose={onClose}>
      <p>
        Remover <strong>{usuario.nome}</strong> ({usuario.email})? As sessões abertas dele são encerradas. Para só impedir o acesso, prefira
        desativar.
      </p>
      <ProblemMessage problem={problem} />
      <div class="actions">
        <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
          Remover
        </button>
        <button type="button" onClick={onClose}>
          Cancelar
        </button>
      </div>
    </Dialog>
  );
}
