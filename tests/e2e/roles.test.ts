import type { Browser, Page, Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { E2eServer, screen, signIn, skipE2e, userPage, type User, useE2e } from '../helpers/browser.js';

const LONG = 90_000;

/** The admin pages' hashes (`web/src/routes.ts`) and their nav titles. */
const ADMIN_PAGES = [
  ['/usuarios', 'Usuários'],
  ['/backups', 'Backups'],
  ['/relatorios', 'Relatórios'],
  ['/logs', 'Logs'],
  ['/auditoria', 'Auditoria'],
] as const;

/** API paths only an admin may read: a non-admin's browser must never ask for them. */
const ADMIN_API = /^\/(usuarios|sistema\/(backups|relatorios|logs|auditoria|status|tasks))(\/|\?|$)/;

/** Every API request a page makes, by path (the app's page, assets and icon left out). */
function recordApiRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/assets/') && url.pathname !== '/' && url.pathname !== '/favicon.ico') seen.push(url.pathname + url.search);
  });
  return seen;
}

/** The `sessao` cookie of a browser context: the token the server revokes. */
async function sessionToken(page: Page): Promise<string> {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'sessao');
  if (!cookie) throw new Error('sem cookie de sessão');
  return cookie.value;
}

/**
 * Role rules as a user meets them in the browser: typed admin hashes for recepcao and médico, the sign-in
 * screen for anonymous visitors (and the page they asked for after signing in), sign-out, and a session that
 * ends under an open agenda.
 */
describe.skipIf(skipE2e)('role rules in the browser', () => {
  let server: E2eServer;
  let browser: Browser;

  useE2e({ medicos: 2, pacientes: 1 }, (s, b) => {
    [server, browser] = [s, b];
  });

  /** Agenda event streams the server holds open now (`GET /sistema/status`). */
  const openStreams = async () => (await server.api<{ sse: { agendaClientes: number } }>('GET', '/sistema/status')).sse.agendaClientes;

  const waitForStreams = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while ((await openStreams()) !== count) {
      if (Date.now() > deadline) throw new Error(`fluxos abertos: ${await openStreams()}, esperado ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  for (const role of ['recepcao', 'medico'] as const) {
    it(`when a ${role} user types each admin page's hash, then a pt-BR "Sem permissão" screen shows and no admin data is requested`, async () => {
      const user: User = server.users[role];
      const { context, page } = await userPage(browser, server.url, user);
      const requests = recordApiRequests(page);
      try {
        const nav = page.getByRole('navigation', { name: 'Principal' });
        await page.getByRole('heading', { name: 'Agenda' }).waitFor();
        for (const [hash, title] of ADMIN_PAGES) {
          expect(await nav.getByRole('link', { name: title, exact: true }).count(), `link ${title} no menu de ${role}`).toBe(0);
          await page.goto(`${server.url}/#${hash}`);
          const main = page.getByRole('main');
          await main.getByRole('heading', { name: 'Sem permissão' }).waitFor({ timeout: 10_000 });
          expect(await main.getByRole('alert').textContent()).toContain(`Você não tem permissão para acessar a página ${title}`);
          // Nothing of the admin page is drawn: no table, no form, no heading with its name.
          expect(await main.getByRole('heading', { name: title, exact: true }).count()).toBe(0);
          expect(await main.getByRole('table').count()).toBe(0);
          expect(await page.title()).toBe('Sem permissão — Agenda Médica');
        }
        await screen(page, `sem-permissao-${role}`);
        await page.getByRole('link', { name: 'Voltar para a agenda' }).click();
        await page.getByRole('heading', { name: 'Agenda' }).waitFor();
        expect(requests.filter((r) => ADMIN_API.test(r)), 'pedidos de dados de administração').toEqual([]);
        // The recording itself works: the agenda's own calls were seen.
        expect(requests.some((r) => r.startsWith('/medicos'))).toBe(true);
      } finally {
        await context.close();
      }
    }, LONG);
  }

  it('when an anonymous visitor opens any hash, then the sign-in screen shows, and signing in lands on the page asked for', async () => {
    for (const [hash, title] of [['/auditoria', 'Auditoria'], ['/horarios-livres', 'Horários livres']] as const) {
      const { context, page } = await userPage(browser, `${server.url}/#${hash}`);
      const requests = recordApiRequests(page);
      try {
        await page.getByRole('button', { name: 'Entrar' }).waitFor();
        expect(await page.getByRole('navigation', { name: 'Principal' }).count()).toBe(0);
        expect(await page.getByRole('heading', { name: title }).count()).toBe(0);
        if (hash === '/auditoria') await screen(page, 'entrar-pagina-pedida');
        await signIn(page, server.users.admin);
        await page.getByRole('main').getByRole('heading', { name: title }).waitFor({ timeout: 10_000 });
        expect(new URL(page.url()).hash).toBe(`#${hash}`);
        // Before sign-in, nothing but the session check reached the API. (Recording starts after the page
        // opened, so the check itself may come before it: only what else was asked is certain.)
        const beforeSignIn = requests.slice(0, requests.indexOf('/auth/login'));
        expect(beforeSignIn.filter((p) => p !== '/auth/sessao')).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, LONG);

  it('when a user presses Sair, then the sign-in screen replaces everything, the stream closes, and the next sign-in starts on the agenda', async () => {
    await waitForStreams(0); // the pages of the tests above are closed
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 15_000 });
      await waitForStreams(1);
      await page.getByRole('link', { name: 'Horários livres' }).click();
      await page.getByRole('main').getByRole('heading', { name: 'Horários livres' }).waitFor();
      await page.getByRole('button', { name: 'Sair' }).click();
      await page.getByRole('button', { name: 'Entrar' }).waitFor();
      expect(await page.getByRole('navigation', { name: 'Principal' }).count()).toBe(0);
      expect(await page.getByText(server.users.recepcao.nome).count()).toBe(0);
      // Pressing Sair is no surprise: no "session ended" notice.
      expect(await page.getByRole('region', { name: 'Sessão encerrada' }).count()).toBe(0);
      expect(new URL(page.url()).hash).toBe('#/agenda');
      await waitForStreams(0);
      // The old cookie no longer opens anything.
      const token = await sessionToken(page).catch(() => undefined);
      if (token) expect((await fetch(`${server.url}/auth/sessao`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
      await signIn(page, server.users.medico);
      await page.getByRole('heading', { name: 'Agenda' }).waitFor();
    } finally {
      await context.close();
    }
  }, LONG);

  it('when the session is revoked under an open agenda, then the next action shows the sign-in screen with a pt-BR notice, and signing in returns to the agenda', async () => {
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 15_000 });
      const token = await sessionToken(page);
      // Revoked through the API, as another tab's Sair or a stolen-cookie clean-up would.
      const logout = await fetch(`${server.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(logout.status).toBe(204);
      await page.getByRole('button', { name: 'Próximo dia' }).click();
      await page.getByRole('button', { name: 'Entrar' }).waitFor({ timeout: 10_000 });
      const notice = page.getByRole('region', { name: 'Sessão encerrada' }).getByRole('alert');
      expect(await notice.textContent()).toContain('Sua sessão terminou');
      expect(await page.getByRole('navigation', { name: 'Principal' }).count()).toBe(0);
      // Not a broken page: no raw HTTP error is on screen.
      expect(await page.locator('body').textContent()).not.toMatch(/HTTP 401|não autenticado/i);
      await screen(page, 'sessao-encerrada');
      await waitForStreams(0);
      await signIn(page, server.users.recepcao);
      await page.getByRole('heading', { name: 'Agenda' }).waitFor();
      expect(await page.getByRole('region', { name: 'Sessão encerrada' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  }, LONG);

  it('when an admin ends the user\'s sessions while the agenda sits open, then coming back to the tab shows the sign-in screen with the notice', async () => {
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 15_000 });
      const usuarios = await server.api<{ items: { id: string; email: string }[] }>('GET', '/usuarios');
      const rita = usuarios.items.find((u) => u.email === server.users.recepcao.email)!;
      // Setting the password (even to the same one) ends every session of that user.
      const { nome, email, senha } = server.users.recepcao;
      await server.api('PUT', `/usuarios/${rita.id}`, { nome, email, senha, papel: 'recepcao', ativo: true });
      // Nothing on the agenda calls the API now: the stream stays open. The user comes back to the tab.
      expect(await page.getByRole('button', { name: 'Entrar' }).count()).toBe(0);
      await page.evaluate('dispatchEvent(new Event("focus"))'); // what the window gets when the user returns
      await page.getByRole('button', { name: 'Entrar' }).waitFor({ timeout: 10_000 });
      await page.getByRole('region', { name: 'Sessão encerrada' }).getByRole('alert').waitFor();
      await waitForStreams(0);
    } finally {
      await context.close();
    }
  }, LONG);
});
