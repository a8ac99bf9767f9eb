import { DateTime } from 'luxon';
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CLINIC_TZ, E2eServer, clinicDate, expectEstado, shot, signIn, skipE2e, useE2e } from '../helpers/browser.js';

const LONG = 120_000;

/**
 * Opening today's agenda at 14:05 must show 14:00, not 00:00 (the médicos work all day here: 48 slots), and
 * the page must not jump when live updates arrive afterwards.
 */
describe.skipIf(skipE2e)('the day view opens at the current time', () => {
  let server: E2eServer;
  let browser: Browser;

  useE2e({ medicos: 2, pacientes: 1 }, (s, b) => {
    [server, browser] = [s, b];
  });

  it('when today is shown at 14:05, then the 14:00 slot is in view and is the grid’s tab stop; a live update later does not scroll', async () => {
    const today = clinicDate(0);
    const medico = server.medicos[0]!;
    const slots = await server.slots(medico.id, today);
    const at1400 = slots.find((s) => s.inicio.slice(11, 16) === '14:00')!;
    // The browser's clock (only the page's: the server keeps the real one) reads 14:05 in the clinic.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: CLINIC_TZ, locale: 'pt-BR' });
    await context.clock.setFixedTime(DateTime.fromISO(`${today}T14:05:00`, { zone: CLINIC_TZ }).toJSDate());
    const page = await context.newPage();
    try {
      await page.goto(server.url);
      await signIn(page, server.users.recepcao);
      const button = page.locator(`button[data-medico-id="${medico.id}"][data-inicio="${at1400.inicio}"]`);
      await button.waitFor();
      await page.waitForFunction(() => (globalThis as unknown as { scrollY: number }).scrollY > 0, undefined, { timeout: 5000 });
      const box = (await button.boundingBox())!;
      expect(box.y).toBeGreaterThan(0);
      expect(box.y + box.height).toBeLessThan(800);
      expect(await button.getAttribute('tabindex')).toBe('0');
      await shot(page, 'agenda-hoje-hora-atual');

      // Back to the top by hand, then a booking arrives on the stream: the page stays where the user put it.
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      const realNow = Date.now();
      const later = slots.find((s) => s.estado === 'disponivel' && Date.parse(s.inicio) > realNow + 3_600_000);
      if (later) {
        await server.agendar(medico.id, server.pacientes[0]!.id, later.inicio);
        await expectEstado(page, medico.id, later.inicio, 'ocupado');
        expect(await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY)).toBe(0);
      }

      // Another day opens at its top.
      await page.getByRole('button', { name: 'Próximo dia' }).click();
      await page.locator(`button[data-inicio^="${clinicDate(1)}"]`).first().waitFor();
      expect(await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY)).toBe(0);
    } finally {
      await context.close();
    }
  }, LONG);
});
