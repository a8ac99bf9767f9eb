import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eServer, launchBrowser, pageState, screen, skipE2e, userPage } from '../helpers/browser.js';

interface Box { x: number; y: number; width: number; height: number }

/** The pairs of boxes that overlap (by more than a pixel, to allow for borders that touch). */
function overlaps(boxes: { name: string; box: Box }[]): string[] {
  const found: string[] = [];
  boxes.forEach((a, i) =>
    boxes.slice(i + 1).forEach((b) => {
      const w = Math.min(a.box.x + a.box.width, b.box.x + b.box.width) - Math.max(a.box.x, b.box.x);
      const h = Math.min(a.box.y + a.box.height, b.box.y + b.box.height) - Math.max(a.box.y, b.box.y);
      if (w > 1 && h > 1) found.push(`${a.name} × ${b.name}`);
    }),
  );
  return found;
}

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

  /** The boxes of a form's controls and buttons, named by their label or text. */
  const controlBoxes = async (form: ReturnType<Page['locator']>) => {
    const controls = form.locator('input, select, button');
    const out: { name: string; box: Box }[] = [];
    for (let i = 0; i < (await controls.count()); i++) {
      const control = controls.nth(i);
      const box = await control.boundingBox();
      const name = (await control.getAttribute('id')) ?? (await control.textContent()) ?? String(i);
      if (box) out.push({ name, box });
    }
    return out;
  };

  it('when the admin opens Relatórios and generates one, then a Baixar link to the PDF appears', async () => {
    await open('Relatórios', 'relatorios');
    const main = page.getByRole('main');
    await main.getByLabel('De', { exact: true }).fill('2026-01-01');
    await main.getByLabel('Até', { exact: true }).fill('2026-12-31');
    await main.getByRole('button', { name: 'Gerar relatório' }).click();
    const baixar = main.getByRole('link', { name: /Baixar/ }).first();
    await baixar.waitFor({ timeout: 60_000 });
    expect(await baixar.getAttribute('href')).toMatch(/\/sistema\/relatorios\/relatorio-\d{8}-\d{6}\.pdf$/);
    // The task is over: its bar is gone and the outcome is announced.
    expect(await main.getByRole('progressbar').count()).toBe(0);
    await main.getByRole('status').filter({ hasText: /Relatório pronto/ }).waitFor();
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
    const form = main.locator('form').first();
    expect(overlaps(await controlBoxes(form))).toEqual([]);
    await screen(page, 'admin-auditoria');
  }, LONG);

  it('when the admin searches a paciente by name in Auditoria, then the trail is filtered by that paciente', async () => {
    await open('Auditoria', 'auditoria');
    const main = page.getByRole('main');
    await main.getByRole('button', { name: 'Limpar filtros' }).click();
    const paciente = server.pacientes[0]!;
    await main.getByLabel('Paciente', { exact: true }).fill(paciente.nome);
    await main.getByRole('button', { name: paciente.nome, exact: true }).click();
    await main.getByText(`Paciente escolhido: ${paciente.nome}`).waitFor();
    await main.getByRole('button', { name: 'Filtrar' }).click();
    // Every row shown names that paciente (its creation at least is there); the unfiltered trail had others.
    const rows = main.getByRole('table').locator('tbody tr');
    const filtered = async () => {
      const texts = await rows.allTextContents();
      return texts.length > 0 && texts.every((t) => t.includes(paciente.id));
    };
    await expect.poll(filtered, { timeout: 10_000 }).toBe(true);
    expect(await main.getByRole('status').filter({ hasText: /\d+–\d+ de \d+/ }).textContent()).toMatch(/^1–/);
    await screen(page, 'admin-auditoria-paciente');

    // A 768-px tablet: the filters wrap onto more rows, and still no control covers another.
    await page.setViewportSize({ width: 768, height: 1024 });
    try {
      expect(overlaps(await controlBoxes(main.locator('form').first()))).toEqual([]);
      await screen(page, 'admin-auditoria-768');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
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
    // The task is over: its bar is gone and the outcome is announced.
    await main.getByRole('status').filter({ hasText: `Backup ${backup!.nome} criado.` }).waitFor({ timeout: 10_000 });
    expect(await main.getByRole('progressbar').count()).toBe(0);
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
    // Counts under pt-BR names; the system's own bookkeeping is not listed.
    const contagens = dialog.getByRole('table', { name: 'Registros restaurados' });
    for (const rotulo of ['Médicos', 'Pacientes', 'Consultas', 'Usuários']) await contagens.getByRole('cell', { name: rotulo, exact: true }).waitFor();
    const texto = (await contagens.textContent()) ?? '';
    for (const interna of ['auditoria_pendente', 'idempotencia', 'sessoes', 'medicos']) expect(texto).not.toContain(interna);
    const ids = (await server.api<{ items: { id: string }[] }>('GET', '/medicos?limit=500')).items.map((m) => m.id);
    expect(ids).not.toContain(depois.id);
    expect(ids).toEqual(expect.arrayContaining(server.medicos.map((m) => m.id)));
    await screen(page, 'admin-backup-restaurado');
  }, LONG);

  it('when the admin opens the waiting-list dialog, then its footer buttons keep their natural width', async () => {
    // The restore above leaves its result dialog open: Concluir (Escape if the restore did not get that far), and
    // wait until it is gone (the app is inert until then).
    const restaurado = page.getByRole('dialog', { name: 'Restaurar backup' });
    if (await restaurado.count()) {
      const concluir = restaurado.getByRole('button', { name: 'Concluir' });
      if (await concluir.count()) await concluir.click();
      else await page.keyboard.press('Escape');
      await restaurado.waitFor({ state: 'detached' });
    }
    const dialog = page.getByRole('dialog', { name: 'Adicionar à lista de espera' });
    try {
      await open('Agenda', 'agenda');
      // The day and the waiting list have loaded: nothing re-renders under the click.
      await page.getByText('Carregando a agenda…').waitFor({ state: 'detached', timeout: 15_000 });
      const lista = page.getByRole('complementary', { name: 'Lista de espera' });
      await lista.getByRole('listitem').or(lista.getByText('Ninguém na lista de espera.')).first().waitFor({ timeout: 15_000 });
      await lista.getByRole('button', { name: 'Adicionar à lista de espera' }).click();
      await dialog.waitFor({ timeout: 15_000 });
    } catch (error) {
      throw new Error(`o diálogo não abriu; a página: ${JSON.stringify(await pageState(page))}`, { cause: error });
    }
    const adicionar = (await dialog.getByRole('button', { name: 'Adicionar', exact: true }).boundingBox())!;
    // `.last()`: the header's × is also named Fechar.
    const fechar = (await dialog.getByRole('button', { name: 'Fechar', exact: true }).last().boundingBox())!;
    const width = (await dialog.boundingBox())!.width;
    expect(adicionar.width).toBeLessThan(width / 3);
    // Side by side on one row, below every field.
    expect(Math.abs(adicionar.y - fechar.y)).toBeLessThan(2);
    const observacoes = (await dialog.getByLabel('Observações').boundingBox())!;
    expect(adicionar.y).toBeGreaterThan(observacoes.y + observacoes.height);
    await screen(page, 'dialogo-lista-espera-admin');
    await page.keyboard.press('Escape');
  }, LONG);
});
