import { describe, expect, it } from 'vitest';
import { LogBuffer, causesOf, createLogger } from '../../src/core/logger.js';

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

describe('causesOf', () => {
  it('when an error has causes, then each is told by its message and code, outermost first, the error itself left out', () => {
    const disk = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC', errno: -28 });
    const error = new Error('Não foi possível gravar o backup.', { cause: new Error('Falha ao gravar os dados em disco.', { cause: disk }) });
    expect(causesOf(error)).toEqual(['Falha ao gravar os dados em disco.', 'ENOSPC: no space left on device, write (ENOSPC)']);
    expect(causesOf(new Error('sem causa'))).toEqual([]);
  });

  it('when a cause is an AggregateError with an empty message (Node 20: a refused connection to a name with two addresses), then its errors are told', () => {
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });
    const aggregate = Object.assign(new AggregateError([refused('::1:5432'), refused('127.0.0.1:5432')], ''), { code: 'ECONNREFUSED' });
    expect(causesOf(new Error('O banco de dados está indisponível no momento.', { cause: aggregate }))).toEqual([
      'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432 (ECONNREFUSED)',
    ]);
  });

  it('when causes loop back on themselves, then at most five are told', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(causesOf(new Error('x', { cause: a }))).toEqual(['a', 'b', 'a', 'b', 'a']);
  });
});
