/**
 * The shell: sign-in until there is a session, then the header with the nav (only the pages the role may use)
 * and the page the hash names.
 */
import { effect, signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { problemOf, type Problem } from './problem.js';
import { navigate, routePath, DEFAULT_PATH } from './router.js';
import { routes } from './routes.js';
import { currentUser, hasRole, loadSession, PAPEL_NOMES, signOut, type SessaoUsuario } from './session.js';
import { SignInPage } from './pages/sign-in-page.js';
import { ProblemMessage } from './components/problem-message.js';

/**
 * True when a signed-in session stopped working without the user pressing `Sair` (it expired, an admin revoked
 * it, the password was changed elsewhere): the sign-in screen then says why, instead of the user wondering
 * where the agenda went. The hash is kept, so signing in again returns to the same page.
 */
const sessionEnded = signal(false);
let signingOut = false;
let lastUser: SessaoUsuario | null | undefined = currentUser.peek();
effect(() => {
  const user = currentUser.value;
  if (user) sessionEnded.value = false;
  else if (user === null && lastUser && !signingOut) sessionEnded.value = true;
  lastUser = user;
});

/**
 * `Sair`: the next person at this desk starts on the agenda, not on the page the last one left open (an admin
 * page would greet a receptionist with "sem permissão").
 */
async function leave(): Promise<void> {
  signingOut = true;
  try {
    await signOut();
  } finally {
    signingOut = false;
    // After the sign-in screen is up, so the agenda does not mount (and fetch) on the way out.
    navigate(DEFAULT_PATH);
  }
}

/**
 * A session can end while the tab sits open, and the open event stream does not say so. Coming back to the tab
 * asks the server; a 401 signs the app out (the API module's handler) and the sign-in screen says why. Not a
 * timer: polling would keep an unattended desk's session alive past its inactivity limit.
 */
function checkSessionOnReturn(): () => void {
  const check = () => {
    if (document.visibilityState !== 'visible' || !currentUser.peek()) return;
    api.get('/auth/sessao').catch(() => undefined); // a network error is the stream's to report, not a sign-out
  };
  addEventListener('focus', check);
  document.addEventListener('visibilitychange', check);
  return () => {
    removeEventListener('focus', check);
    document.removeEventListener('visibilitychange', check);
  };
}

export function App() {
  const [bootProblem, setBootProblem] = useState<Problem | null>(null);
  useEffect(() => {
    loadSession().catch((error: unknown) => setBootProblem(problemOf(error)));
    return checkSessionOnReturn();
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
  if (user === null) {
    return (
      <>
        {sessionEnded.value && (
          <section class="center-page" aria-label="Sessão encerrada">
            <p class="problem" role="alert">
              Sua sessão terminou (expirou ou foi encerrada pela administração). Entre novamente para continuar.
            </p>
          </section>
        )}
        <SignInPage />
      </>
    );
  }

  const allowed = routes.filter((r) => hasRole(r.roles));
  const page = allowed.find((r) => r.path === routePath.value);
  // A page that exists but this role may not use (a typed or bookmarked `#/usuarios`): say so, in the shell.
  const forbidden = page ? undefined : routes.find((r) => r.path === routePath.value);
  if (!page && !forbidden) {
    // An unknown page: go to the agenda instead of showing nothing.
    queueMicrotask(() => navigate(DEFAULT_PATH));
    return null;
  }
  document.title = `${page ? page.title : 'Sem permissão'} — Agenda Médica`;
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
          <button type="button" onClick={() => void leave()}>
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
      <h1>Sem permissão</h1>
      <p class="problem" role="alert">
        Você não tem permissão para acessar a página {title}. Ela é restrita à administração da clínica.
      </p>
      <p>
        <a href={`#${DEFAULT_PATH}`}>Voltar para a agenda</a>
      </p>
    </main>
  );
}
