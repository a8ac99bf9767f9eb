import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultWebDir, webApp } from '../../src/http/web-app.js';
import { makeApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';

const webDir = defaultWebDir();

describe('the reception web app served at /', () => {
  beforeAll(() => {
    // `npm test` builds the app first; a lone `vitest run` of this file builds it here instead of failing.
    if (!existsSync(join(webDir, 'index.html'))) execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  }, 120_000);

  it('when / is asked without a session, then it answers the built index.html, never cached, with no inline script', async () => {
    const { rawApp } = await makeApp({ signedIn: false });
    const res = await request(rawApp).get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toMatch(/no-cache|no-store/);
    expect(res.text).toContain('<div id="app">');
    expect(res.text).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
    // Every <script> has a src: the CSP allows no inline script.
    for (const tag of res.text.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) expect(tag).toMatch(/^<script[^>]*\ssrc="[^"]+"[^>]*><\/script>$/);
    expect(res.text).toBe(readFileSync(join(webDir, 'index.html'), 'utf8'));
  });

  it('when the bundle is asked, then JS and CSS are served with a year-long immutable cache', async () => {
    const { rawApp } = await makeApp({ signedIn: false });
    const index = (await request(rawApp).get('/')).text;
    const assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const res = await request(rawApp).get(asset).expect(200);
      expect(res.headers['content-type']).toMatch(asset.endsWith('.js') ? /javascript/ : /text\/css/);
      expect(res.headers['cache-control']).toMatch(/max-age=31536000/);
      expect(res.headers['cache-control']).toContain('immutable');
    }
    expect(readdirSync(join(webDir, 'assets')).length).toBeGreaterThanOrEqual(2);
  });

  it('when / is served, then the CSP allows the app’s own scripts and no inline or foreign ones', async () => {
    const { rawApp } = await makeApp({ signedIn: false });
    const csp = String((await request(rawApp).get('/')).headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    // Served over plain HTTP on a LAN (TLS is the proxy's), the app must not have its assets rewritten to https://.
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(csp).toMatch(/font-src 'self' data:(;|$)/);
  });

  it('when an unknown path or asset is asked, then it is still a 404 problem+json', async () => {
    const { rawApp } = await makeApp({ signedIn: false });
    for (const path of ['/nao-existe', '/assets/nao-existe.js', '/agenda']) {
      const res = await request(rawApp).get(path).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('when / is asked with another method, then it answers 405 with Allow', async () => {
    const { rawApp } = await makeApp({ signedIn: false });
    const res = await request(rawApp).post('/').send({}).expect(405);
    expect(res.headers['allow']).toContain('GET');
  });

  it('when the app was not built, then / answers a 503 problem in pt-BR naming npm run build', async () => {
    const app = express().use(webApp(await tempDir()));
    const res = await request(app).get('/').expect(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, detail: expect.stringContaining('npm run build') });
  });
});
