import { describe, expect, it } from 'vitest';
import { LogBuffer, createLogger } from '../../src/core/logger.js';

describe('LogBuffer', () => {
  it('when more entries arrive than it holds, then it keeps only the newest, in order', () => {
    const buffer = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) buffer.write(JSON.stringify({ time: i, level: 30, msg: `m${i}` }));
    expect(buffer.list().map((e) => e.msg)).toEqual(['m3', 'm4', 'm5']);
  });

  it('when subscribed, then new entries are delivered until unsubscribed', () => {
    const buffer = new LogBuffer(10);
    const seen: string[] = [];
    const off = buffer.subscribe((e) => seen.push(e.msg));
    buffer.write(JSON.stringify({ time: 1, level: 30, msg: 'a' }));
    off();
    buffer.write(JSON.stringify({ time: 2, level: 30, msg: 'b' }));
    expect(seen).toEqual(['a']);
  });
});

describe('createLogger', () => {
  it('when personal fields are logged, then they are redacted in every sink', async () => {
    const buffer = new LogBuffer(10);
    const lines: string[] = [];
    const logger = await createLogger({ level: 'info', pretty: false, buffer, destination: { write: (l: string) => void lines.push(l) } });
    logger.info({ cpf: '52998224725', paciente: { nome: 'João', email: 'j@x.com', telefone: '11 99999-0000' }, consultaId: 'c1' }, 'x');
    await new Promise((r) => setTimeout(r, 10));
    const all = JSON.stringify(buffer.list()) + lines.join('');
    expect(all).toContain('c1');
    for (const secret of ['52998224725', 'João', 'j@x.com', '99999-0000']) expect(all).not.toContain(secret);
  });

  it('when an error carries a library object (pg-pool sets err.client, with the backend cancel key), then the log keeps the error fields and drops the object, in its causes too', async () => {
    const buffer = new LogBuffer(10);
    const lines: string[] = [];
    const logger = await createLogger({ level: 'info', pretty: false, buffer, destination: { write: (l: string) => void lines.push(l) } });
    const client = { processID: 4242, secretKey: -1917295730, connectionParameters: { host: '10.0.0.5', password: 'x' } };
    const cause = Object.assign(new Error('Connection terminated unexpectedly'), { client });
    const error = Object.assign(new Error('conexão perdida', { cause }), { code: '57P01', client });
    logger.warn({ err: error }, 'conexão com o banco de dados perdida');
    await new Promise((r) => setTimeout(r, 10));
    for (const sink of [JSON.stringify(buffer.list()), lines.join('')]) {
      expect(sink).not.toContain('secretKey');
      expect(sink).not.toContain('10.0.0.5');
      expect(sink).toContain('57P01');
      expect(sink).toContain('Connection terminated unexpectedly');
    }
  });
});
