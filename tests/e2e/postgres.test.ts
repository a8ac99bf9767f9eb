import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { E2eServer, checkA11y, clinicDate, expectEstado, showDate, skipE2e, slot, userPage, useE2e } from '../helpers/browser.js';
import { skipWithoutPostgres } from '../helpers/postgres.js';
import type { RunningServer } from '../helpers/server.js';

const LONG = 120_000;

/**
 * The whole product on PostgreSQL (`STORAGE=postgres`), web app included, with two server processes on one
 * database: the front desk books on process A from the grid while an admin watches the same day on process B,
 * whose live grid must follow from its own stream (the change feed and the reservation signal carry A's booking).
 */
describe.skipIf(skipE2e || skipWithoutPostgres())('the day view on PostgreSQL, two server processes', () => {
  let server: E2eServer;
  let browser: Browser;
  let b: RunningServer;
  const day = clinicDate(1);

  useE2e({ medicos: 1, pacientes: 2, storage: 'postgres' }, (s, br) => {
    [server, browser] = [s, br];
  });

  const dialog = (page: Page, name: string) => page.getByRole('dialog', { name });

  it('when recepcao books on process A, then an admin watching on process B sees it ocupado within 3 s, and disponivel after the cancel made on B', async () => {
    b = await server.another();
    const medico = server.medicos[0]!;
    const paciente = server.pacientes[0]!;
    const alvo = (await server.slots(medico.id, day))[18]!;
    const recepcao = await userPage(browser, server.url, server.users.recepcao);
    const admin = await userPage(browser, b.url, server.users.admin);
    try {
      const { page } = recepcao;
      await page.getByRole('heading', { name: 'Agenda' }).waitFor();
      await admin.page.getByRole('heading', { name: 'Agenda' }).waitFor();
      await showDate(page, day);
      await showDate(admin.page, day);
      await expectEstado(admin.page, medico.id, alvo.inicio, 'disponivel');
      await checkA11y(page, 'agenda-postgres');

      await slot(page, medico.id, alvo.inicio).click();
      const agendar = dialog(page, 'Agendar consulta');
      await agendar.waitFor();
      await agendar.getByLabel('Buscar paciente (nome ou CPF)').fill(paciente.nome.split(' ')[1]!);
      await agendar.getByRole('button', { name: paciente.nome }).click();
      await agendar.getByRole('button', { name: 'Agendar', exact: true }).click();

      await expectEstado(page, medico.id, alvo.inicio, 'ocupado', 15_000);
      // B's page follows from B's stream alone: no reload happens in it.
      await expectEstado(admin.page, medico.id, alvo.inicio, 'ocupado', 3_000);
      await slot(admin.page, medico.id, alvo.inicio).filter({ hasText: paciente.nome }).waitFor({ timeout: 5_000 });

      // The admin cancels on B; the front desk on A sees the slot free again.
      await slot(admin.page, medico.id, alvo.inicio).click();
      const consulta = dialog(admin.page, 'Consulta');
      await consulta.waitFor();
      await consulta.getByRole('button', { name: 'Cancelar consulta' }).click();
      await consulta.getByLabel('Motivo do cancelamento').fill('Paciente pediu para desmarcar');
      await consulta.getByRole('button', { name: /^(Confirmar cancelamento|Cancelar consulta)$/ }).last().click();
      await expectEstado(admin.page, medico.id, alvo.inicio, 'disponivel', 10_000);
      await expectEstado(page, medico.id, alvo.inicio, 'disponivel', 3_000);
      const stored = await server.api<{ items: { status: string }[] }>('GET', `/consultas?medicoId=${medico.id}`);
      expect(stored.items.map((c) => c.status)).toEqual(['cancelada']);
    } finally {
      await recepcao.context.close();
      await admin.context.close();
    }
  }, LONG);
});
