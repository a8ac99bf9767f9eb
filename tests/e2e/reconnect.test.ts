import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { E2eServer, clinicDate, expectEstado, shot, showDate, skipE2e, userPage, useE2e } from '../helpers/browser.js';

const LONG = 120_000;

/**
 * The server restarts under an open day view (a deploy, a crash): the page must notice, say so, reconnect on its
 * own and show the agenda as it is now — including a booking made while it was away — without a reload.
 */
describe.skipIf(skipE2e)('the day view across a server restart', () => {
  let server: E2eServer;
  let browser: Browser;

  useE2e({ medicos: 1, pacientes: 1 }, (s, b) => {
    [server, browser] = [s, b];
  });

  it('when the server restarts and a slot is booked meanwhile, then the stream reconnects and the grid shows the booking without reload', async () => {
    const day = clinicDate(1);
    const medico = server.medicos[0]!;
    const alvo = (await server.slots(medico.id, day))[22]!;
    const { context, page } = await userPage(browser, server.url, server.users.recepcao);
    try {
      await showDate(page, day);
      const status = page.getByRole('status').filter({ hasText: /Ao vivo|Reconectando/ });
      await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 10_000 });
      // A mark in the page's memory: a reload would wipe it.
      await page.evaluate(() => { (globalThis as unknown as { semRecarga: boolean }).semRecarga = true; });

      await server.stop();
      await page.getByRole('status').filter({ hasText: 'Reconectando…' }).waitFor({ timeout: 15_000 });
      await shot(page, 'agenda-reconectando');

      await server.start();
      // Booked right away, before the browser's retry (3 s) reconnects: only a refetch or a replay can show it.
      await server.agendar(medico.id, server.pacientes[0]!.id, alvo.inicio);

      await expectEstado(page, medico.id, alvo.inicio, 'ocupado', 30_000);
      await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 15_000 });
      expect(await page.evaluate(() => (globalThis as unknown as { semRecarga?: boolean }).semRecarga)).toBe(true);
      expect(await status.count()).toBeGreaterThan(0);
      await shot(page, 'agenda-reconectada');

      // And the stream is live again: a cancel made now arrives as an event.
      const [consulta] = (await server.api<{ items: { id: string }[] }>('GET', `/consultas?medicoId=${medico.id}`)).items;
      await server.api('POST', `/consultas/${consulta!.id}/cancelar`, {});
      await expectEstado(page, medico.id, alvo.inicio, 'disponivel', 5_000);
    } finally {
      await context.close();
    }
  }, LONG);
});
