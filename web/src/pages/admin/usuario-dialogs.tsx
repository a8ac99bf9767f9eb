/** The parts of the Usuários page that edit one user: the form's fields, the edit and remove dialogs. */
import { useState } from 'preact/hooks';
import type { Medico } from '../../../../src/schemas/medico.schema.js';
import type * as UsuarioSchema from '../../../../src/schemas/usuario.schema.js';
import type { Usuario } from '../../../../src/schemas/usuario.schema.js';
import { api } from '../../api.js';
import { Dialog } from '../../components/dialog.js';
import { DialogFooter } from '../../components/dialog-footer.js';
import { InputField, SelectField } from '../../components/field.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { useAction } from '../../components/use-action.js';
import { fieldErrors } from '../../problem.js';
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
    <SelectField
      label="Médico"
      value={value}
      onValue={onChange}
      emptyLabel="Selecione…"
      required
      options={medicos.map((m) => ({ value: m.id, label: `${m.nome} (${m.especialidade})` }))}
      error={error}
    />
  );
}

export function PapelSelect({ value, error, onChange }: { value: Papel; error?: string | undefined; onChange: (p: Papel) => void }) {
  return (
    <SelectField label="Papel" value={value} onValue={(v) => onChange(v as Papel)} options={PAPEIS.map((p) => ({ value: p, label: PAPEL_NOMES[p] }))} error={error} />
  );
}

/** A new password: never filled in by the browser's saved one (`new-password`), never shown. */
export function SenhaField(props: { label: string; hint: string; value: string; error?: string | undefined; onValue: (v: string) => void }) {
  return <InputField {...props} type="password" autoComplete="new-password" />;
}

export function EditUsuario({ usuario, medicos, onClose, onSaved }: { usuario: Usuario; medicos: Medico[]; onClose: () => void; onSaved: (u: Usuario) => void }) {
  const [draft, setDraft] = useState<Draft>({ ...EMPTY, nome: usuario.nome, email: usuario.email, papel: usuario.papel, medicoId: usuario.medicoId ?? '', ativo: usuario.ativo });
  const { busy, problem, run } = useAction();
  const errors = fieldErrors(problem, FIELDS);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => onSaved(await api.put<Usuario>(`/usuarios/${encodeURIComponent(usuario.id)}`, bodyOf(draft, false))));
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
        <SenhaField label="Nova senha (opcional)" hint="Em branco, a senha não muda." value={draft.senha} error={errors['senha']} onValue={(v) => set('senha', v)} />
        <p class="notice">Mudar papel, médico, senha ou desativar encerra as sessões deste usuário.</p>
        <ProblemMessage problem={problem} fields={FIELDS} />
        <DialogFooter primary="Salvar" disabled={busy} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

export function RemoveUsuario({ usuario, onClose, onRemoved }: { usuario: Usuario; onClose: () => void; onRemoved: () => void }) {
  const { busy, problem, run } = useAction();
  const remove = () =>
    run(async () => {
      await api.delete(`/usuarios/${encodeURIComponent(usuario.id)}`);
      onRemoved();
    });
  return (
    <Dialog title="Remover usuário" onClose={onClose}>
      <p>
        Remover <strong>{usuario.nome}</strong> ({usuario.email})? As sessões abertas dele são encerradas. Para só impedir o acesso, prefira
        desativar.
      </p>
      <ProblemMessage problem={problem} />
      <DialogFooter primary="Remover" tone="danger" disabled={busy} onPrimary={() => void remove()} onCancel={onClose} />
    </Dialog>
  );
}
