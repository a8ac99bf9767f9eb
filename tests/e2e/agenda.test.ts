import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  E2eServer, clinicDate, expectEstado, screen, shot, showDate, skipE2e, slot, userPage, type BrowserGlobals, useE2e } from '../helpers/browser.js';

/** Long: a real server, a real browser, two cores shared with other test files. */
const LONG = 90_000;

/**
 * The front desk's day in a real browser, against a real server process: booking from the grid with a second
 * user watching live, cancel, check-in, encaixe, the waiting list's highlight, keyboard-only use, the médico's
 * own view, and axe plus a screenshot of each screen.
 */
describe.skipIf(skipE2e)('the day view in a browser', () => {
  let server: E2eServer;
  let browser: Browser;
  const day = clinicDate(1);

  useE2e({ medicos: 2, pacientes: 4 }, (s, b) => {
    [server, browser] = [s, b];
  });

  /** The médico's `index`-th slot of the test day (API strings, as `data-inicio` holds them). */
  const slotOf = async (medicoId: string, index: number) => (await server.slots(medicoId, day))[index]!;

  const dialog = (page: Page, name: string) => page.getByRole('dialog', { name });

  it('when the sign-in screen opens, then it has E-mail, Senha and Entrar and no serious axe violation', async () => {
    const { context, page } = await userPage(browser, server.url);
    await page.getByRole('button', { name: 'Entrar' }).waitFor();
    await screen(page, 'entrar');
    await page.getByLabel('E-mail', { exact: true }).fill(server.users.recepcao.email);
    await page.getByLabel('Senha', { exact: true }).fill('senha-errada-123');
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor({ timeout: 10_000 });
    await shot(page, 'entrar-erro');
    await context.close();
  }, LONG);

  it('when recepcao books a free slot from the grid, then another signed-in user sees it ocupado within 2 s, and both see it free after cancel', async () => {
    const [medico] = server.medicos;
    const paciente = server.pacientes[0]!;
    const alvo = await slotOf(medico!.id, 20);
    const recepcao = await userPage(browser, server.url, server.users.recepcao);
    const admin = await userPage(browser, server.url, server.users.admin);
    try {
      const { page } = recepcao;
      await page.getByRole('heading', { name: 'Agenda' }).waitFor();
      await showDate(page, day);
      await showDate(admin.page, day);
      await expectEstado(page, medico!.id, alvo.inicio, 'disponivel');
      await expectEstado(admin.page, medico!.id, alvo.inicio, 'disponivel');
      await screen(page, 'agenda-dia');

      await slot(page, medico!.id, alvo.inicio).click();
      const agendar = dialog(page, 'Agendar consulta');
      await agendar.waitFor();
      await agendar.getByLabel('Buscar paciente (nome ou CPF)').fill(paciente.nome.split(' ')[1]!);
      await agendar.getByRole('button', { name: paciente.nome }).click();
      await screen(page, 'dialogo-agendar-consulta');
      await agendar.getByRole('button', { name: 'Agendar', exact: true }).click();

      await expectEstado(page, medico!.id, alvo.inicio, 'ocupado', 15_000);
      // The watcher must follow from the stream alone: no reload happens in its page.
      await expectEstado(admin.page, medico!.id, alvo.inicio, 'ocupado', 2_000);
      await expect(slot(page, medico!.id, alvo.inicio).textContent()).resolves.toMatch(/Ocupado/);
      // The name comes from the consulta and paciente records, which may arrive a moment after the slot's state.
      await slot(page, medico!.id, alvo.inicio).filter({ hasText: paciente.nome }).waitFor({ timeout: 5_000 });
      await shot(admin.page, 'agenda-outro-usuario-ao-vivo');

      await slot(page, medico!.id, alvo.inicio).click();
      const consulta = dialog(page, 'Consulta');
      await consulta.waitFor();
      await screen(page, 'dialogo-consulta');
      await consulta.getByRole('button', { name: 'Cancelar consulta' }).click();
      await consulta.getByLabel('Motivo do cancelamento').fill('Paciente pediu para desmarcar');
      await screen(page, 'dialogo-cancelar-consulta');
      // web/README.md names the question, not the button that confirms it: the dialog's last enabled button
      // whose name speaks of cancelling is it.
      await consulta.getByRole('button', { name: /^(Confirmar cancelamento|Cancelar consulta)$/ }).last().click();
      await expectEstado(page, medico!.id, alvo.inicio, 'disponivel', 10_000);
      await expectEstado(admin.page, medico!.id, alvo.inicio, 'disponivel', 2_000);
    } finally {
      await recepcao.context.close();
      await admin.context.close();
    }
  }, LONG);

  it('when a paciente checks in from the consulta dialog, then the status shown is aguardando', async () => {
    const medico = server.medicos[1]!;
    const paciente = server.pacientes[1]!;
    // Check-in opens 2 hours before the start: take the next slot at least 3 minutes away (today or tomorrow).
    const soon = Date.now() + 3 * 60_000;
    const slots = [...(await server.slots(medico.id, clinicDate(0))), ...(await server.slots(medico.id, clinicDate(1)))];
    const proximo = slots.find((s) => s.estado === 'disponivel' && Date.parse(s.inicio) >= soon)!;
    const consultaId = await server.agendar(medico.id, paciente.id, proximo.inicio);

    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await showDate(page, proximo.inicio.slice(0, 10));
      await expectEstado(page, medico.id, proximo.inicio, 'ocupado');
      await slot(page, medico.id, proximo.inicio).click();
      const consulta = dialog(page, 'Consulta');
      await consulta.waitFor();
      await consulta.getByRole('button', { name: 'Check-in' }).click();
      await consulta.getByText(/aguardando/i).first().waitFor({ timeout: 10_000 });
      await shot(page, 'dialogo-consulta-checkin');
      const stored = await server.api<{ status: string; chegouEm: string | null }>('GET', `/consultas/${consultaId}`);
      expect(stored.status).toBe('aguardando');
      expect(stored.chegouEm).toBeTruthy();
      // Only the transitions the status machine allows now stay enabled: it cannot be checked in twice.
      expect(await consulta.getByRole('button', { name: 'Check-in' }).isDisabled()).toBe(true);
      // The grid tells who has arrived, without opening the consulta: the status goes beside the name.
      await page.keyboard.press('Escape');
      await consulta.waitFor({ state: 'detached' });
      await page.waitForFunction(
        ([m, i]) =>
          /Aguardando/.test(
            (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector(
              `[data-medico-id="${m}"][data-inicio="${i}"]`,
            )?.textContent ?? '',
          ),
        [medico.id, proximo.inicio] as const,
        { timeout: 5_000 },
      );
    } finally {
      await context.close();
    }
  }, LONG);

  it('when an encaixe is booked from its dialog, then it is listed under the médico with data-encaixe-id', async () => {
    const medico = server.medicos[0]!;
    const paciente = server.pacientes[2]!;
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await showDate(page, day);
      const coluna = page.locator(`section[data-medico-id="${medico.id}"]`);
      await coluna.getByRole('button', { name: 'Encaixe' }).click();
      const encaixe = dialog(page, 'Agendar encaixe');
      await encaixe.waitFor();
      await encaixe.getByLabel('Buscar paciente (nome ou CPF)').fill(paciente.nome.split(' ')[1]!);
      await encaixe.getByRole('button', { name: paciente.nome }).click();
      await encaixe.getByLabel('Horário').fill('10:05');
      await encaixe.getByLabel('Duração (min)').fill('15');
      await screen(page, 'dialogo-agendar-encaixe');
      await encaixe.getByRole('button', { name: 'Agendar encaixe' }).click();
      await coluna.locator('[data-encaixe-id]').first().waitFor({ timeout: 10_000 });
      const encaixeId = await coluna.locator('[data-encaixe-id]').first().getAttribute('data-encaixe-id');
      const stored = await server.api<{ inicio: string; pacienteId: string; medicoId: string }>('GET', `/consultas/${encaixeId}`);
      expect(stored).toMatchObject({ medicoId: medico.id, pacienteId: paciente.id, inicio: `${day}T10:05:00-03:00` });
      await shot(page, 'agenda-com-encaixe');
    } finally {
      await context.close();
    }
  }, LONG);

  it('when a consulta a waiting-list entry waits for is cancelled, then the entry is highlighted with the vaga', async () => {
    const medico = server.medicos[1]!;
    const alvo = await slotOf(medico.id, 30);
    const consultaId = await server.agendar(medico.id, server.pacientes[0]!.id, alvo.inicio);
    const entrada = await server.api<{ id: string }>('POST', '/lista-espera', {
      pacienteId: server.pacientes[3]!.id, medicoId: medico.id, de: day, ate: day,
    });
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await showDate(page, day);
      const lista = page.getByRole('complementary', { name: 'Lista de espera' });
      const item = lista.locator(`[data-lista-espera-id="${entrada.id}"]`);
      await item.waitFor({ timeout: 10_000 });
      await page.getByRole('button', { name: 'Adicionar à lista de espera' }).click();
      await page.getByRole('dialog').waitFor();
      await screen(page, 'dialogo-lista-espera');
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'detached' });

      await server.api('POST', `/consultas/${consultaId}/cancelar`, { motivo: 'desistiu' });
      await page.waitForFunction(
        (id) => (globalThis as unknown as BrowserGlobals).document.querySelector(`[data-lista-espera-id="${id}"]`)?.getAttribute('data-destaque') === 'true',
        entrada.id,
        { timeout: 5_000 },
      );
      const hora = alvo.inicio.slice(11, 16);
      await expect(item.textContent()).resolves.toMatch(new RegExp(`Vaga disponível: .*${hora}`));
      await item.getByRole('button', { name: 'Agendar nesta vaga' }).waitFor();
      await screen(page, 'lista-espera-destaque');
    } finally {
      await context.close();
    }
  }, LONG);

  it('when only the keyboard is used, then Tab reaches the grid, arrows move, Enter opens the dialog and Escape returns focus', async () => {
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    const focused = () => page.evaluate(() => {
      const el = (globalThis as unknown as BrowserGlobals).document.activeElement;
      return { medico: el?.getAttribute('data-medico-id') ?? null, inicio: el?.getAttribute('data-inicio') ?? null, estado: el?.getAttribute('data-estado') ?? null, label: el?.getAttribute('aria-label') ?? null };
    });
    const tabTo = async (match: (f: Awaited<ReturnType<typeof focused>>, text: string) => boolean, what: string) => {
      for (let i = 0; i < 80; i++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        const text = await page.evaluate(() => ((globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } }).document.activeElement?.textContent ?? '').trim());
        if (match(f, text)) return f;
      }
      throw new Error(`Tab não chegou a ${what}`);
    };
    try {
      await page.getByRole('heading', { name: 'Agenda' }).waitFor();
      // Tomorrow, through the keyboard too: every slot there is in the future.
      await tabTo((_, text) => text === 'Próximo dia', 'Próximo dia');
      await page.keyboard.press('Enter');
      await page.locator(`button[data-inicio^="${day}"]`).first().waitFor();
      const first = await tabTo((f) => f.inicio !== null, 'um horário da grade');
      expect(first.inicio!.startsWith(day)).toBe(true);

      await page.keyboard.press('ArrowDown');
      const down = await focused();
      expect(down.medico).toBe(first.medico);
      expect(Date.parse(down.inicio!)).toBeGreaterThan(Date.parse(first.inicio!));
      await page.keyboard.press('ArrowRight');
      const right = await focused();
      expect(right.medico).not.toBe(first.medico);
      expect(right.inicio).not.toBeNull();
      await page.keyboard.press('ArrowLeft');
      expect((await focused()).medico).toBe(first.medico);

      // Down to a free slot (earlier tests took some), then open it.
      let current = await focused();
      for (let i = 0; i < 40 && current.estado !== 'disponivel'; i++) {
        await page.keyboard.press('ArrowDown');
        current = await focused();
      }
      expect(current.estado).toBe('disponivel');
      await page.keyboard.press('Enter');
      const agendar = dialog(page, 'Agendar consulta');
      await agendar.waitFor();
      const inDialog = await page.evaluate(() => !!(globalThis as unknown as BrowserGlobals).document.activeElement?.closest('[role="dialog"]'));
      expect(inDialog).toBe(true);
      // Focus stays trapped in the dialog however far Tab goes.
      for (let i = 0; i < 15; i++) await page.keyboard.press('Tab');
      expect(await page.evaluate(() => !!(globalThis as unknown as BrowserGlobals).document.activeElement?.closest('[role="dialog"]'))).toBe(true);
      await page.keyboard.press('Escape');
      await agendar.waitFor({ state: 'detached' });
      // Focus comes back within a frame of the dialog closing (a re-render of the grid may need one).
      await page.waitForFunction((inicio) => (globalThis as unknown as BrowserGlobals).document.activeElement?.getAttribute('data-inicio') === inicio, current.inicio, { timeout: 2_000 }).catch(() => undefined);
      const back = await focused();
      expect(back).toMatchObject({ medico: current.medico, inicio: current.inicio });
      await shot(page, 'teclado-foco-devolvido');
    } finally {
      await context.close();
    }
  }, LONG);

  it('when a médico signs in, then the grid shows only its own column', async () => {
    const [own, other] = server.medicos;
    const { context, page } = await userPage(browser, server.url, server.users.medico);
    try {
      await showDate(page, day);
      const columns = await page.locator('section[data-medico-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-medico-id')));
      expect(columns).toEqual([own!.id]);
      const slotMedicos = new Set(await page.locator('button[data-medico-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-medico-id'))));
      expect([...slotMedicos]).toEqual([own!.id]);
      expect(await page.locator(`[data-medico-id="${other!.id}"]`).count()).toBe(0);
      // Admin pages are not offered to the role.
      const nav = page.getByRole('navigation', { name: 'Principal' });
      expect(await nav.getByRole('link', { name: 'Usuários' }).count()).toBe(0);
      await screen(page, 'agenda-medico');
    } finally {
      await context.close();
    }
  }, LONG);

  it('when the Horários livres page opens, then a search lists free slots and neither view has a serious axe violation', async () => {
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await page.getByRole('navigation', { name: 'Principal' }).getByRole('link', { name: 'Horários livres' }).click();
      await page.waitForURL(/#\/horarios-livres/);
      await page.getByRole('heading', { name: /Horários livres/i }).first().waitFor();
      await screen(page, 'horarios-livres');
      await page.getByRole('main').getByRole('button', { name: 'Buscar' }).click();
      // Every médico works all day: the next free slots name them.
      await page.getByRole('main').getByText(server.medicos[0]!.nome).first().waitFor({ timeout: 10_000 });
      await screen(page, 'horarios-livres-resultado');
    } finally {
      await context.close();
    }
  }, LONG);

  it('when the window is a 768-px tablet, then the day view has no serious axe violation', async () => {
    const { context, page } = await userPage(browser, server.url, server.users.recepcao, { width: 768, height: 1024 });
    try {
      await showDate(page, day);
      await screen(page, 'agenda-tablet-768');
    } finally {
      await context.close();
    }
  }, LONG);
});
