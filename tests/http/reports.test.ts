import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PDFParse } from 'pdf-parse';
import { downloadPdf } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

type App = Awaited<ReturnType<typeof makeApp>>;

async function pdfText(t: App, nome: string): Promise<{ text: string; pages: number }> {
  const parsed = await new PDFParse({ data: await downloadPdf(t.app, nome) }).getText();
  return { text: parsed.text, pages: parsed.total };
}

async function report(t: App, body: Record<string, unknown>): Promise<{ nome: string; paginas: number; consultas: number }> {
  const res = await request(t.app).post('/sistema/tasks/relatorio').send(body);
  expect(res.status).toBe(202);
  await t.container.queue.onIdle();
  const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
  expect(task.body).toMatchObject({ tipo: 'gerar_relatorio', status: 'concluida', progresso: 100 });
  return task.body.resultado;
}

describe('PDF reports', () => {
  it('when generated, then the PDF names the clinic, the period, médicos with accents and the totals', async () => {
    const t = await makeApp({ env: { CLINIC_NAME: 'Clínica São Lucas' } });
    const m = await request(t.app).post('/medicos').send(medicoBody({ nome: 'Cláudia Mendonça', crm: '4321/MG' })).expect(201);
    const { medicoId, pacientes } = await clinic(t.app, { pacientes: 3 });
    await request(t.app).post('/pacientes').send(pacienteBody({ nome: 'Conceição Araújo', cpf: '86288366757' })).expect(201);
    await agendar(t.app, { medicoId, pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    await agendar(t.app, { medicoId: m.body.id, pacienteId: pacientes[1], inicio: at('08:00') }).expect(201);
    const c = await agendar(t.app, { medicoId, pacienteId: pacientes[2], inicio: at('09:00') }).expect(201);
    await request(t.app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);

    const result = await report(t, { de: '2026-12-01', ate: '2026-12-31' });
    expect(result).toMatchObject({ nome: expect.stringMatching(/^relatorio-20261130-120000\.pdf$/), consultas: 3, paginas: 1 });
    const list = await request(t.app).get('/sistema/relatorios').expect(200);
    expect(list.body).toEqual([{ nome: result.nome, tamanhoBytes: expect.any(Number), criadoEm: expect.any(String) }]);
    const { text } = await pdfText(t, result.nome);
    expect(text).toContain('Clínica São Lucas');
    expect(text).toContain('Período: 01/12/2026 a 31/12/2026');
    expect(text).toContain('Gerado em: 30/11/2026 12:00');
    expect(text).toContain('Cláudia Mendonça');
    expect(text).toMatch(/Agendada\s+2/);
    expect(text).toMatch(/Cancelada\s+1/);
    expect(text).toMatch(/Total\s+3/);
    expect(text).toContain('07/12/2026 08:00');
    expect(text).toContain('Página 1 de 1');
  });

  it('when filtered by médico, then only its consultas; an unknown médico is 422; a bad period is 400', async () => {
    const t = await makeApp();
    const { medicos, pacienteId } = await clinic(t.app, { medicos: 2 });
    await agendar(t.app, { medicoId: medicos[0], pacienteId, inicio: at('08:00') }).expect(201);
    await agendar(t.app, { medicoId: medicos[1], pacienteId, inicio: at('09:00') }).expect(201);
    expect((await report(t, { de: '2026-12-01', ate: '2026-12-31', medicoId: medicos[1] })).consultas).toBe(1);
    expect((await request(t.app).post('/sistema/tasks/relatorio').send({ medicoId: 'nao-existe' })).status).toBe(422);
    expect((await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-12-31', ate: '2026-12-01' })).status).toBe(400);
    expect((await request(t.app).post('/sistema/tasks/relatorio').send({ de: '31/12/2026' })).status).toBe(400);
    expect((await request(t.app).get('/sistema/relatorios/..%2Fdata%2Fmedicos.json')).status).toBe(404);
  });

  it('when the period has no body, then the current month is used', async () => {
    const t = await makeApp();
    const res = await request(t.app).post('/sistema/tasks/relatorio');
    expect(res.status).toBe(202);
    await t.container.queue.onIdle();
    const { text } = await pdfText(t, (await request(t.app).get('/sistema/relatorios')).body[0].nome);
    expect(text).toContain('Período: 01/11/2026 a 30/11/2026');
    expect(text).toContain('Nenhuma consulta no período.');
  });

  it('when a large report is generated, then it has numbered pages and the API keeps answering meanwhile', async () => {
    const t = await makeApp();
    const { medicoId, pacienteId } = await clinic(t.app);
    // 6,000 consultas written straight to the store (the booking path is tested elsewhere).
    await t.container.store!.transact((tx) => {
      for (let i = 0; i < 6000; i++) {
        const start = Date.parse('2026-12-01T11:00:00Z') + i * 10 * 60_000;
        const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
        tx.put('consultas', {
          id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, medicoId, pacienteId, inicio: iso(start), fim: iso(start + 600_000),
          status: i % 7 === 0 ? 'cancelada' : 'realizada', observacoes: null, motivoCancelamento: null, criadaEm: 'x', atualizadaEm: 'x',
        } as never);
      }
    });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const res = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-12-01', ate: '2027-01-31' });
    expect(res.status).toBe(202);
    delay.enable();
    const started = performance.now();
    // While the worker lays out the PDF, agenda requests keep completing.
    let answered = 0;
    let finished = false;
    let workerNice = 0;
    const idle = t.container.queue.onIdle().then(() => (finished = true));
    while (!finished) {
      await request(t.app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' }).expect(200);
      answered++;
      workerNice = Math.max(workerNice, ...threadNiceValues());
    }
    await idle;
    const tookMs = performance.now() - started;
    delay.disable();
    const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
    expect(task.body.status).toBe('concluida');
    expect(answered).toBeGreaterThan(10);
    // No long block of the event loop while the PDF was built: built on this thread, the longest block would be
    // most of the build. Relative to the build's own duration, so a loaded machine slows both sides alike.
    expect(delay.max / 1e6).toBeLessThan(tookMs / 4);
    // The worker thread ran at the lowest priority (the test process's other threads stay at 0).
    if (process.platform === 'linux') expect(workerNice).toBe(19);
    const { text, pages } = await pdfText(t, task.body.resultado.nome);
    expect(pages).toBeGreaterThan(100);
    expect(text).toContain(`Página ${pages} de ${pages}`);
    expect(text).toContain('Página 2 de');
  }, 60_000);
});

/** The nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread ended
    }
  });
}
