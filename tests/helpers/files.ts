import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';

/** Every data file's bytes (`*.json`, `journal.wal`), to prove that something changed nothing on disk. */
export function dataFileBytes(dataDir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dataDir)
      .filter((f) => f.endsWith('.json') || f.endsWith('.wal'))
      .map((f) => [f, readFileSync(path.join(dataDir, f)).toString('base64')]),
  );
}

/** Downloads a generated report and checks it is served as a PDF. */
export async function downloadPdf(app: Express, nome: string): Promise<Buffer> {
  const res = await request(app)
    .get(`/sistema/relatorios/${nome}`)
    .buffer(true)
    .parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  return res.body as Buffer;
}
