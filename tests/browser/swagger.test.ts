import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { makeApp, signIn } from '../helpers/app.js';
import { listen } from '../helpers/sse.js';

const CHROMIUM = '/usr/bin/chromium';

/**
 * The newcomer's path: open /docs, try an operation (401: not signed in), paste a session token through the
 * Authorize button, create a médico with "Try it out", and find it through the API.
 */
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('Swagger UI in a real browser', () => {
  it('when a médico is created through Swagger UI, then it answers 201 and the médico is stored', async () => {
    const t = await makeApp({ signedIn: false });
    const { token } = await signIn(t.container, 'recepcao');
    const server = await listen(t.app);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/docs/`);
      const op = '#operations-Médicos-postMedicos';
      await page.waitForSelector(op, { timeout: 20_000 });
      await page.click(`${op} .opblock-summary`);
      await page.click(`${op} .try-out__btn`);
      await page.fill(
        `${op} textarea.body-param__text`,
        JSON.stringify({ nome: 'Renata Swagger', crm: '909090/BA', especialidade: 'Neurologia' }),
      );
      const status = page.locator(`${op} .live-responses-table .response .response-col_status`);
      await page.click(`${op} .execute`);
      await status.waitFor({ timeout: 10_000 });
      expect((await status.textContent())?.trim()).toBe('401');

      await page.click('.auth-wrapper .authorize');
      const bearerBox = page.locator('.auth-container', { hasText: 'bearer' }).first();
      await bearerBox.locator('input').fill(token);
      await bearerBox.locator('button.authorize').click();
      await page.click('.btn-done');
      await page.click(`${op} .execute`);
      await page.locator(`${op} .live-responses-table .response .response-col_status`, { hasText: '201' }).waitFor({ timeout: 10_000 });
    } finally {
      await browser.close();
      await server.close();
    }
    expect((await t.container.storage.medicos.findByCrm('909090/BA'))?.nome).toBe('Renata Swagger');
  }, 60_000);
});
