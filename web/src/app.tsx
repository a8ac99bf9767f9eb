/**
 * The shell: sign-in until there is a session, then the header with the nav (only the pages the role may use)
 * and the page the hash names.
 */
import { useEffect, useState } from 'preact/hooks';
import { problemOf, type Problem } from './problem.js';
import { navigate, routePath, DEFAULT_PATH } from './router.js';
import { routes } from './routes.js';
import { currentUser, hasRole, loadSession, PAPEL_NOMES, signOut } from './session.js';
import { SignInPage } from './pages/sign-in-page.js';
import { ProblemMessage } from './components/problem-message.js';

export function App() {
  const [bootProblem, setBootProblem] = useState<Problem | null>(null);
  useEffect(() => {
    loadSession().catch((error: unknown) => setBootProblem(problemOf(error)));
  }, []);

  const user = currentUser.value;
  if (bootProblem && user === undefined) {
    return (
      <main class="center-page">
        <h1>Agenda Médica</h1>
        <ProblemMessage problem={bootProblem} />
        <button type="button" onClick={() => location.reload()}>
          Tentar de novo
        </button>
      </main>
    );
  }
  if (user === undefined) return <p class="loading" role="status">Carregando…</p>;
  if (user === null) return <SignInPage />;

  const allowed = routes.filter((r) => hasRole(r.roles));
  const page = allowed.find((r) => r.path === routePath.value);
  // A page that exists but this role may not use (a typed or bookmarked `#/usuarios`): say so, in the shell.
  const forbidden = page ? undefined : routes.find((r) => r.path === routePath.value);
  if (!page && !forbidden) {
    // An unknown page: go to the agenda instead of showing nothing.
    queueMicrotask(() => navigate(DEFAULT_PATH));
    return null;
  }
  document.title = `${(page ?? forbidden)!.title} — Agenda Médica`;
  const Page = page?.component;
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">Agenda Médica</span>
        <nav aria-label="Principal">
          <ul>
            {allowed.map((r) => (
              <li key={r.path}>
                <a href={`#${r.path}`} aria-current={r === page ? 'page' : undefined}>
                  {r.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="user">
          <span>
            {user.nome} <small>({PAPEL_NOMES[user.papel]})</small>
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sair
          </button>
        </div>
      </header>
      {Page ? <Page /> : <ForbiddenPage title={forbidden!.title} />}
    </div>
  );
}

/** What a role sees on a page it may not use: the server would refuse its calls anyway, so nothing is fetched. */
function ForbiddenPage({ title }: { title: string }) {
  return (
    <main>
      <h1>{title}</h1>
      <p class="problem" role="alert">
        Você não tem permissão para acessar esta página. Ela é restrita à administração da clínica.
      </p>
      <p>
        <a href={`#${DEFAULT_PATH}`}>Voltar para a agenda</a>
      </p>
    </main>
  );
}
