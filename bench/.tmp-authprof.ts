import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

const mode = process.argv[2] ?? 'auth';
const dir = mkdtempSync(path.join(tmpdir(), 'authprof-'));
const port = 18000 + Math.floor(Math.random() * 1000);
const args = [`--cpu-prof`, `--cpu-prof-dir=/tmp/authprof/${mode}`, ...(mode === 'auth' ? [] : ['--import', './bench/no-auth/register.mjs']), 'dist/src/server.js'];
const child = spawn(process.execPath, args, { env: { ...process.env, DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', SEED: 'true', LOG_LEVEL: 'warn', BACKUP_INTERVAL_MIN: '0', ADMIN_EMAIL: 'b@c.local', ADMIN_SENHA: 'bench-senha-0123', WRITE_RATE_LIMIT: '0' }, stdio: ['ignore', 'ignore', 'inherit'] });
const url = `http://127.0.0.1:${port}`;
for (;;) { try { if ((await fetch(`${url}/health`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 50)); }
let headers: Record<string, string> = {};
if (mode === 'auth') {
  const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'b@c.local', senha: 'bench-senha-0123' }) });
  headers = { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
}
const medicos = (await (await fetch(`${url}/medicos`, { headers })).json()) as { items?: { id: string }[]; dados?: { id: string }[] } & { id: string }[];
const list = (medicos as any).items ?? (medicos as any).dados ?? (medicos as any).data ?? medicos;
const id = list[0].id;
const r = await autocannon({ url: `${url}/medicos/${id}/agenda?data=2030-01-07`, headers, connections: 50, duration: Number(process.argv[3] ?? 10) });
console.log(mode, r['2xx'], 'req/s', Math.round(r['2xx'] / r.duration), 'non2xx', r.non2xx);
child.kill('SIGTERM');
await new Promise((res) => child.once('exit', res));
