import { useState } from 'preact/hooks';
import { Field, ProblemMessage } from '../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { signIn } from '../session.js';

const FIELDS = ['email', 'senha'] as const;

export function SignInPage() {
  const [email, setEmail] = useState('');
  const [senha, setSenha] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(problem, FIELDS);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await signIn(email, senha);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="center-page">
      <h1>Agenda Médica</h1>
      <form class="card sign-in" onSubmit={submit}>
        <h2>Entrar</h2>
        <Field label="E-mail" error={errors['email']}>
          {(a) => <input {...a} type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <Field label="Senha" error={errors['senha']}>
          {(a) => <input {...a} type="password" autoComplete="current-password" required value={senha} onInput={(e) => setSenha(e.currentTarget.value)} />}
        </Field>
        <ProblemMessage problem={problem} fields={FIELDS} />
        <button type="submit" class="primary" disabled={busy}>
          Entrar
        </button>
      </form>
    </main>
  );
}
