import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { makeApp } from '../helpers/app.js';
import { listen } from '../helpers/sse.js';

const CHROMIUM = '/usr/bin/chromium';

/** The newcomer's path: open /docs, create a médico with "Try it out", and find it through the API. */
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('Swagger UI in a real browser', () => {
  it('when a médico is created through Swagger UI, then it answers 201 and the médico is stored', async () => {
    const t = await makeApp();
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
      await page.click(`${op} .execute`);
      const status = page.locator(`${op} .live-responses-table .response .response-col_status`);
      await status.waitFor({ timeout: 10_000 });
      expect((await status.textContent())?.trim()).toBe('201');
    } finally {
      await browser.close();
      await server.close();
    }
    expect(t.container.repositories.medicos.findByCrm('909090/BA')?.nome).toBe('Renata Swagger');
  }, 60_000);
});
