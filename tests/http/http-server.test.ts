import express from 'express';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/http-server.js';

describe('createHttpServer', () => {
  it("when a request arrives, then Node built it with Express's prototypes, so Express has no prototype to change", async () => {
    const app = express();
    app.get('/eco', (req, res) => void res.json({ path: req.path, header: req.get('x-teste') ?? null }));
    const server = createHttpServer(app);
    const before: boolean[] = [];
    // Runs before Express sees the request: Express would swap the prototypes right after.
    server.prependListener('request', (req, res) => {
      before.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response);
    });
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await fetch(`http://127.0.0.1:${port}/eco?x=1`, { headers: { 'x-teste': 'ola' } });
      // Express's request and response API still works through them.
      expect(await answer.json()).toEqual({ path: '/eco', header: 'ola' });
      expect(before).toEqual([true, true]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
