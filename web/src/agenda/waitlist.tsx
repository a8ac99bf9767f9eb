/**
 * `Lista de espera` beside the grid: active entries; an entry a freed slot serves (`vaga_disponivel`) is
 * highlighted with that vaga and a button to book it.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ListaEspera } from '../../../src/schemas/lista-espera.schema.js';
import type { Medico } from '../../../src/schemas/medico.schema.js';
import { api } from '../api.js';
import { Dialog } from '../components/dialog.js';
import { PacientePicker, type PacienteEscolhido } from '../components/paciente-picker.js';
import { DialogFooter } from '../components/dialog-footer.js';
import { Field, InputField, SelectField } from '../components/field.js';
import { ProblemMessage } from '../components/problem-message.js';
import { useAction } from '../components/use-action.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { timeInZone } from './grid.js';
import type { Vaga } from './use-day.js';

export interface WaitlistProps {
  medicos: readonly Medico[];
  nomes: ReadonlyMap<string, string>;
  vagas: ReadonlyMap<string, Vaga>;
  timezone: string;
  /** Bumped by the page after a booking, so the list reloads. */
  version: number;
  onBookVaga: (entry: ListaEspera, vaga: Vaga, paciente: PacienteEscolhido) => void;
}

export function Waitlist(props: WaitlistProps) {
  const [entries, setEntries] = useState<ListaEspera[] | null>(null);
  const [nomes, setNomes] = useState<ReadonlyMap<string, PacienteEscolhido>>(new Map());
  const [problem, setProblem] = useState<Problem | null>(null);
  const [adding, setAdding] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    api
      .get<{ items: ListaEspera[] }>('/lista-espera', { query: { ativa: 'true', limit: 200 } })
      .then(async (r) => {
        setEntries(r.items);
        setProblem(null);
        const ids = [...new Set(r.items.map((e) => e.pacienteId))];
        const found = await Promise.all(ids.map((id) => api.get<PacienteEscolhido>(`/pacientes/${encodeURIComponent(id)}`).catch(() => null)));
        setNomes(new Map(found.flatMap((p) => (p ? [[p.id, p] as const] : []))));
      })
      .catch((error: unknown) => setProblem(problemOf(error)));
  }, [reload, props.version, props.vagas]);

  const medicoNome = (id: string | null) => props.medicos.find((m) => m.id === id)?.nome;

  return (
    <aside class="waitlist" aria-label="Lista de espera">
      <h2>Lista de espera</h2>
      <button type="button" onClick={() => setAdding(true)}>
        Adicionar à lista de espera
      </button>
      <ProblemMessage problem={problem} />
      {entries?.length === 0 && <p class="notice">Ninguém na lista de espera.</p>}
      <ul>
        {entries?.map((entry) => {
          const vaga = props.vagas.get(entry.id);
          const paciente = nomes.get(entry.pacienteId);
          return (
            <li key={entry.id} data-lista-espera-id={entry.id} data-destaque={vaga ? 'true' : undefined} class={vaga ? 'entry highlight' : 'entry'}>
              <strong>{paciente?.nome ?? '…'}</strong>
              <small>
                {medicoNome(entry.medicoId) ?? entry.especialidade ?? 'Qualquer médico'} · de {formatLimite(entry.de)} até {formatLimite(entry.ate)}
              </small>
              {vaga && (
                <div class="vaga" role="status">
                  <span>
                    Vaga disponível: {new Date(vaga.inicio).toLocaleDateString('pt-BR', { timeZone: props.timezone })} {timeInZone(vaga.inicio, props.timezone)}
                  </span>
                  <button type="button" class="primary" disabled={!paciente} onClick={() => paciente && props.onBookVaga(entry, vaga, paciente)}>
                    Agendar nesta vaga
                  </button>
                </div>
              )}
            </li>
          );
        })}
      </ul>
      {adding && (
        <AddDialog
          medicos={props.medicos}
          onClose={() => setAdding(false)}
          onAdded={() => {
            setAdding(false);
            setReload((n) => n + 1);
          }}
        />
      )}
    </aside>
  );
}

function formatLimite(value: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value.split('-').reverse().join('/') : new Date(value).toLocaleString('pt-BR');
}

const FIELDS = ['medicoId', 'especialidade', 'de', 'ate', 'observacoes', 'pacienteId'] as const;

function AddDialog(props: { medicos: readonly Medico[]; onClose: () => void; onAdded: () => void }) {
  const [paciente, setPaciente] = useState<PacienteEscolhido | null>(null);
  const [form, setForm] = useState({ medicoId: '', especialidade: '', de: '', ate: '', observacoes: '' });
  const { busy, problem, run } = useAction();
  const errors = fieldErrors(problem, FIELDS);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const especialidades = [...new Set(props.medicos.map((m) => m.especialidade))].sort();

  const add = (event: Event) => {
    event.preventDefault();
    if (!paciente) return;
    void run(async () => {
      await api.post('/lista-espera', {
        pacienteId: paciente.id,
        medicoId: form.medicoId || null,
        especialidade: form.medicoId ? null : form.especialidade || null,
        de: form.de,
        ate: form.ate,
        observacoes: form.observacoes.trim() || null,
      });
      props.onAdded();
    });
  };

  return (
    <Dialog title="Adicionar à lista de espera" onClose={props.onClose}>
      <PacientePicker value={paciente} onChange={setPaciente} />
      <form onSubmit={add} class="form-grid waitlist-form">
        <SelectField
          label="Médico"
          value={form.medicoId}
          onValue={set('medicoId')}
          emptyLabel="Qualquer médico da especialidade"
          options={props.medicos.map((m) => ({ value: m.id, label: `${m.nome} (${m.especialidade})` }))}
          error={errors['medicoId']}
        />
        <SelectField
          label="Especialidade"
          value={form.especialidade}
          onValue={set('especialidade')}
          emptyLabel="—"
          options={especialidades.map((e) => ({ value: e, label: e }))}
          disabled={form.medicoId !== ''}
          error={errors['especialidade']}
        />
        <InputField label="De" type="date" required value={form.de} onValue={set('de')} error={errors['de']} />
        <InputField label="Até" type="date" required value={form.ate} onValue={set('ate')} error={errors['ate']} />
        <Field label="Observações" error={errors['observacoes']}>
          {(a) => <textarea {...a} rows={2} value={form.observacoes} onInput={(e) => set('observacoes')(e.currentTarget.value)} />}
        </Field>
        <div class="form-row">
          <ProblemMessage problem={problem} fields={FIELDS} />
        </div>
        <DialogFooter primary="Adicionar" disabled={busy || !paciente} cancel="Fechar" onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
