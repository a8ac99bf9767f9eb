/**
 * Picks a paciente: search by name or CPF (as typed, after a short pause), or create one on the spot with the
 * CPF checked as it is typed. The chosen paciente is shown above the search.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Paciente } from '../../../src/schemas/paciente.schema.js';
import { api } from '../api.js';
import { cpfProblem } from '../cpf.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { Field, InputField } from './field.js';
import { ProblemMessage } from './problem-message.js';
import { useAction } from './use-action.js';

export type PacienteEscolhido = Pick<Paciente, 'id' | 'nome' | 'cpf'>;

const NOVO_FIELDS = ['nome', 'cpf', 'dataNascimento', 'telefone', 'email'] as const;

export function formatCpf(cpf: string): string {
  return cpf.length === 11 ? `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}` : cpf;
}

export interface PacientePickerProps {
  value: PacienteEscolhido | null;
  onChange: (p: PacienteEscolhido | null) => void;
  /** Label of the search box. */
  searchLabel?: string;
  /**
   * `booking` (default): a framed `Paciente` group that also offers `Novo paciente`. `filter`: only the search,
   * laid out as one field of a form grid (a filter must not create pacientes).
   */
  mode?: 'booking' | 'filter';
  /** The API's message for the paciente field, shown beside the search. */
  error?: string | undefined;
}

export function PacientePicker({ value, onChange, searchLabel = 'Buscar paciente (nome ou CPF)', mode = 'booking', error }: PacientePickerProps) {
  const [busca, setBusca] = useState('');
  const [resultados, setResultados] = useState<Paciente[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    const text = busca.trim();
    if (text.length < 2) {
      setResultados(null);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const digits = text.replace(/\D/g, '');
      // Only digits (and CPF punctuation) with all 11 digits is a CPF lookup; anything else searches names.
      const query = /^[\d.\-\s]+$/.test(text) && digits.length === 11 ? { cpf: digits, limit: 10 } : { q: text, limit: 10 };
      api
        .get<{ items: Paciente[] }>('/pacientes', { query, signal: controller.signal })
        .then((r) => {
          setResultados(r.items);
          setProblem(null);
        })
        .catch((error: unknown) => {
          if (!controller.signal.aborted) setProblem(problemOf(error));
        });
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [busca]);

  const choose = (p: PacienteEscolhido | null) => {
    // A new choice starts from an empty search: `Trocar` should not show the old results again.
    setBusca('');
    onChange(p);
  };
  const chosen = value && (
    <p class="chosen" aria-live="polite">
      Paciente escolhido: <strong>{value.nome}</strong> (CPF {formatCpf(value.cpf)}){' '}
      <button type="button" onClick={() => choose(null)}>
        Trocar
      </button>
    </p>
  );
  const search = !value && (
    <>
      <Field label={searchLabel} error={error} hint={mode === 'filter' ? 'Nome ou CPF' : undefined}>
        {(a) => <input {...a} type="search" autoComplete="off" value={busca} onInput={(e) => setBusca(e.currentTarget.value)} />}
      </Field>
      <ProblemMessage problem={problem} />
      {resultados && <Resultados items={resultados} onChoose={choose} />}
    </>
  );

  if (mode === 'filter') {
    return (
      <div class="picker-filter">
        {value ? (
          <div class="field">
            <span class="field-label">{searchLabel}</span>
            {chosen}
            {error && <small class="field-error">{error}</small>}
          </div>
        ) : (
          search
        )}
      </div>
    );
  }
  return (
    <fieldset class="picker">
      <legend>Paciente</legend>
      {chosen}
      {search}
      {!value && <NovoPaciente onCreated={choose} />}
    </fieldset>
  );
}

function Resultados({ items, onChoose }: { items: readonly Paciente[]; onChoose: (p: PacienteEscolhido) => void }) {
  return (
    <div class="results" aria-live="polite">
      {items.length === 0 ? (
        <p class="notice">Nenhum paciente encontrado.</p>
      ) : (
        <ul>
          {items.map((p) => (
            <li key={p.id}>
              <button type="button" aria-label={p.nome} onClick={() => onChoose(p)}>
                {p.nome} <small>CPF {formatCpf(p.cpf)}</small>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function NovoPaciente({ onCreated }: { onCreated: (p: PacienteEscolhido) => void }) {
  const [form, setForm] = useState({ nome: '', cpf: '', dataNascimento: '', telefone: '', email: '' });
  const { busy, problem, run } = useAction();
  const errors = fieldErrors(problem, NOVO_FIELDS);
  const cpfAsTyped = cpfProblem(form.cpf);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  const create = () =>
    run(async () => {
      const body = {
        nome: form.nome,
        cpf: form.cpf,
        dataNascimento: form.dataNascimento,
        telefone: form.telefone.trim() || null,
        email: form.email.trim() || null,
      };
      onCreated(await api.post<Paciente>('/pacientes', body));
    });

  return (
    <section class="novo-paciente" aria-labelledby="novo-paciente-titulo">
      <h3 id="novo-paciente-titulo">Novo paciente</h3>
      <div class="form-grid">
        <InputField label="Nome" value={form.nome} onValue={set('nome')} error={errors['nome']} />
        <InputField label="CPF" inputMode="numeric" value={form.cpf} onValue={set('cpf')} error={cpfAsTyped ?? errors['cpf']} />
        <InputField label="Data de nascimento" type="date" value={form.dataNascimento} onValue={set('dataNascimento')} error={errors['dataNascimento']} />
        <InputField label="Telefone" type="tel" value={form.telefone} onValue={set('telefone')} error={errors['telefone']} />
        <InputField label="E-mail" type="email" value={form.email} onValue={set('email')} error={errors['email']} />
      </div>
      <ProblemMessage problem={problem} fields={NOVO_FIELDS} />
      <div class="actions">
        <button type="button" disabled={busy || cpfAsTyped !== undefined} onClick={() => void create()}>
          Cadastrar paciente
        </button>
      </div>
    </section>
  );
}
