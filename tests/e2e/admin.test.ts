import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eServer, launchBrowser, screen, skipE2e, userPage } from '../helpers/browser.js';

const LONG = 120_000;

/** The admin pages in a real browser: each one opens, passes axe, is photographed; a backup is restored. */
describe.skipIf(skipE2e)('the admin pages in a browser', () => {
  let server: E2eServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [server, browser] = await Promise.all([E2eServer.start({ medicos: 2, pacientes: 2 }), launchBrowser()]);
    page = (await userPage(browser, server.url, server.users.admin)).page;
  }, LONG);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens an admin page through the main navigation and waits for its heading. */
  const open = async (link: string, hash: string) => {
    await page.getByRole('navigation', { name: 'Principal' }).getByRole('link', { name: link, exact: true }).click();
    await page.waitForURL(new RegExp(`#/${hash}`));
    await page.getByRole('heading', { name: link }).first().waitFor({ timeout: 10_000 });
  };

  it('when the admin opens Usuários, then the users are listed with the Novo usuário form', async () => {
    await open('Usuários', 'usuarios');
    const main = page.getByRole('main');
    await main.getByRole('table').getByText(server.users.recepcao.email).waitFor({ timeout: 10_000 });
    for (const label of ['Nome', 'E-mail', 'Senha', 'Papel']) await main.getByLabel(label, { exact: true }).first().waitFor();
    await screen(page, 'admin-usuarios');
  }, LONG);

  it('when the admin opens Relatórios and generates one, then a Baixar link to the PDF appears', async () => {
    await open('Relatórios', 'relatorios');
    const main = page.getByRole('main');
    await main.getByLabel('De', { exact: true }).fill('2026-01-01');
    await main.getByLabel('Até', { exact: true }).fill('2026-12-31');
    await main.getByRole('button', { name: 'Gerar relatório' }).click();
    const baixar = main.getByRole('link', { name: /Baixar/ }).first();
    await baixar.waitFor({ timeout: 60_000 });
    expect(await baixar.getAttribute('href')).toMatch(/\/sistema\/relatorios\/relatorio-\d{8}-\d{6}\.pdf$/);
    await screen(page, 'admin-relatorios');
  }, LONG);

  it('when the admin opens Logs, then log entries are listed', async () => {
    await open('Logs', 'logs');
    // The server logs every request: the pages opened above are there already.
    await page.getByRole('main').getByText(/\S/).first().waitFor();
    await screen(page, 'admin-logs');
  }, LONG);

  it('when the admin filters Auditoria by action, then the table shows those entries', async () => {
    await open('Auditoria', 'auditoria');
    const main = page.getByRole('main');
    for (const label of ['Usuário', 'Paciente', 'De', 'Até']) await main.getByLabel(label, { exact: true }).first().waitFor();
    await main.getByLabel('Ação', { exact: true }).fill('usuario.criar').catch(async () => {
      // A select instead of a text box is fine too.
      await main.getByLabel('Ação', { exact: true }).selectOption('usuario.criar');
    });
    await main.getByRole('button', { name: 'Filtrar' }).click();
    await main.getByRole('table').getByText('usuario.criar').first().waitFor({ timeout: 10_000 });
    await screen(page, 'admin-auditoria');
  }, LONG);

  it('when the admin restores a backup, then Restaurar stays disabled until the typed name matches, and the data go back', async () => {
    await open('Backups', 'backups');
    const main = page.getByRole('main');
    await main.getByRole('button', { name: 'Criar backup' }).click();
    const row = main.getByRole('row').filter({ hasText: /backup-\d{8}-\d{6}/ }).first();
    await row.waitFor({ timeout: 30_000 });
    const [backup] = await server.api<{ nome: string }[]>('GET', '/sistema/backups');
    expect(await row.textContent()).toContain(backup!.nome);
    expect(await row.getByRole('link', { name: 'Baixar' }).getAttribute('href')).toContain(`/sistema/backups/${backup!.nome}`);
    await screen(page, 'admin-backups');

    // A médico created after the backup: the restore must take it away.
    const depois = await server.api<{ id: string }>('POST', '/medicos', { nome: 'Dr. Depois do Backup', crm: '77777/SP', especialidade: 'Clínica geral' });

    await row.getByRole('button', { name: 'Restaurar' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restaurar backup' });
    await dialog.waitFor();
    const confirmar = dialog.getByRole('button', { name: 'Restaurar', exact: true });
    const nome = dialog.getByLabel('Digite o nome do backup para confirmar');
    expect(await confirmar.isDisabled()).toBe(true);
    await nome.fill(backup!.nome.slice(0, -1));
    expect(await confirmar.isDisabled()).toBe(true);
    await nome.fill(backup!.nome);
    expect(await confirmar.isEnabled()).toBe(true);
    await screen(page, 'dialogo-restaurar-backup');
    await confirmar.click();

    // The dialog reports the result once the server answered; then the API is the judge: the médico made
    // after the backup is gone, those before it are back.
    await page.getByText(/restaurad/i).first().waitFor({ timeout: 30_000 });
    const ids = (await server.api<{ items: { id: string }[] }>('GET', '/medicos?limit=500')).items.map((m) => m.id);
    expect(ids).not.toContain(depois.id);
    expect(ids).toEqual(expect.arrayContaining(server.medicos.map((m) => m.id)));
    await screen(page, 'admin-backup-restaurado');
  }, LONG);
});
