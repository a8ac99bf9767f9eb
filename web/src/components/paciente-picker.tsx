/**
 * Picks a paciente: search by name or CPF (as typed, after a short pause), or create one on the spot with the
 * CPF checked as it is typed. The chosen paciente is shown above the search.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Paciente } from '../../../src/schemas/paciente.schema.js';
import { api } from '../api.js';
import { cpfProblem } from '../cpf.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { Field, ProblemMessage } from './problem-message.js';

export type PacienteEscolhido = Pick<Paciente, 'id' | 'nome' | 'cpf'>;

const NOVO_FIELDS = ['nome', 'cpf', 'dataNascimento', 'telefone', 'email'] as const;

export function formatCpf(cpf: string): string {
  return cpf.length === 11 ? `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}` : cpf;
}

export function PacientePicker({ value, onChange }: { value: PacienteEscolhido | null; onChange: (p: PacienteEscolhido | null) => void }) {
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

  return (
    <fieldset class="picker">
      <legend>Paciente</legend>
      {value && (
        <p class="chosen" aria-live="polite">
          Paciente escolhido: <strong>{value.nome}</strong> (CPF {formatCpf(value.cpf)}){' '}
          <button type="button" onClick={() => onChange(null)}>
            Trocar
          </button>
        </p>
      )}
      {!value && (
        <>
          <Field label="Buscar paciente (nome ou CPF)">
            {(a) => <input {...a} type="search" autoComplete="off" value={busca} onInput={(e) => setBusca(e.currentTarget.value)} />}
          </Field>
          <ProblemMessage problem={problem} />
          {resultados && (
            <div class="results" aria-live="polite">
              {resultados.length === 0 ? (
                <p class="notice">Nenhum paciente encontrado.</p>
              ) : (
                <ul>
                  {resultados.map((p) => (
                    <li key={p.id}>
                      <button type="button" aria-label={p.nome} onClick={() => onChange(p)}>
                        {p.nome} <small>CPF {formatCpf(p.cpf)}</small>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <NovoPaciente onCreated={onChange} />
        </>
      )}
    </fieldset>
  );
}

function NovoPaciente({ onCreated }: { onCreated: (p: PacienteEscolhido) => void }) {
  const [form, setForm] = useState({ nome: '', cpf: '', dataNascimento: '', telefone: '', email: '' });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(problem, NOVO_FIELDS);
  const cpfAsTyped = cpfProblem(form.cpf);
  const set = (key: keyof typeof form) => (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value });

  const create = async () => {
    setBusy(true);
    try {
      const body = {
        nome: form.nome,
        cpf: form.cpf,
        dataNascimento: form.dataNascimento,
        telefone: form.telefone.trim() || null,
        email: form.email.trim() || null,
      };
      const created = await api.post<Paciente>('/pacientes', body);
      setProblem(null);
      onCreated(created);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="novo-paciente" aria-labelledby="novo-paciente-titulo">
      <h3 id="novo-paciente-titulo">Novo paciente</h3>
      <div class="form-grid">
        <Field label="Nome" error={errors['nome']}>
          {(a) => <input {...a} value={form.nome} onInput={set('nome')} />}
        </Field>
        <Field label="CPF" error={cpfAsTyped ?? errors['cpf']}>
          {(a) => <input {...a} inputMode="numeric" value={form.cpf} onInput={set('cpf')} />}
        </Field>
        <Field label="Data de nascimento" error={errors['dataNascimento']}>
          {(a) => <input {...a} type="date" value={form.dataNascimento} onInput={set('dataNascimento')} />}
        </Field>
        <Field label="Telefone" error={errors['telefone']}>
          {(a) => <input {...a} type="tel" value={form.telefone} onInput={set('telefone')} />}
        </Field>
        <Field label="E-mail" error={errors['email']}>
          {(a) => <input {...a} type="email" value={form.email} onInput={set('email')} />}
        </Field>
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
