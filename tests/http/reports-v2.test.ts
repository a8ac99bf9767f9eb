import { inflateSync } from 'node:zlib';
import { PDFParse } from 'pdf-parse';
import { downloadPdf } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { CHART_TITLE } from '../../src/services/report-chart.js';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';
import { CPFS } from '../helpers/scheduling.js';

type App = Awaited<ReturnType<typeof makeApp>>;

const LONG_NAME =
  'Maria Aparecida Conceição dos Santos Albuquerque Cavalcanti de Vasconcelos Bragança e Orléans Figueiredo Montenegro';
const LONG_PACIENTE = 'Francisca Valdirene Rodrigues de Oliveira Nascimento Pimentel Assunção Bittencourt';


/** The (inflated) page content streams of a PDF, joined: where the drawing operators are. */
function contentStreams(pdf: Buffer): string {
  const text = pdf.toString('latin1');
  const out: string[] = [];
  for (const match of text.matchAll(/stream\r?\n/g)) {
    const start = match.index + match[0].length;
    const end = text.indexOf('endstream', start);
    try {
      out.push(inflateSync(pdf.subarray(start, end)).toString('latin1'));
    } catch {
      // not a deflated stream (or not whole): not a page's content
    }
  }
  return out.join('\n');
}

const HOURS = (fim: string) => [{ diaSemana: 1, inicio: '08:00', fim }];

/**
 * A small known clinic over two Mondays (2026-11-30, the test's today at 12:00, and 2026-12-07):
 * - Nguyễn Thị Ánh, 08:00–10:00 (4 slots a Monday, 8 in all): on 11-30 realizada 08:00, faltou 08:30,
 *   cancelada 09:00, faltou 09:30; on 12-07 agendada 08:00 plus an encaixe in the same slot, and one at 11:00,
 *   outside every slot. Holds 4 of 8 slots → 50,0%; no-shows 2 of the 3 started and not cancelled → 66,7%.
 * - Şükrü Öztürk, 08:00–09:00 (2 slots a Monday, 4 in all) with 30-minute slots but consultas booked when they
 *   were 20 minutes long: 5 consultas over 4 slots, which a count of consultas would show as 125%. → 100,0%.
 * - İlkay Gündoğan: no consultas → 0,0%, no no-show rate.
 * - The long name: one agendada → 1 of 8 → 12,5%.
 */
async function knownClinic(t: App): Promise<void> {
  const ids: string[] = [];
  const medicos: [string, string][] = [['Nguyễn Thị Ánh', '10:00'], ['Şükrü Öztürk', '09:00'], ['İlkay Gündoğan', '10:00'], [LONG_NAME, '10:00']];
  for (const [i, [nome, fim]] of medicos.entries()) {
    const res = await request(t.app).post('/medicos').send(medicoBody({ nome, crm: `${7000 + i}/SP`, horarios: HOURS(fim) })).expect(201);
    ids.push(res.body.id);
  }
  const [anh, sukru, , longo] = ids as [string, string, string, string];
  const p1 = (await request(t.app).post('/pacientes').send(pacienteBody({ nome: 'Nguyễn Văn Bình', cpf: CPFS[0] })).expect(201)).body.id;
  const p2 = (await request(t.app).post('/pacientes').send(pacienteBody({ nome: LONG_PACIENTE, cpf: CPFS[1] })).expect(201)).body.id;
  let n = 0;
  const consulta = (medicoId: string, inicio: string, minutes: number, status: string, encaixe = false) => {
    const start = Date.parse(inicio);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    return {
      id: `00000000-0000-4000-8000-${String(n++).padStart(12, '0')}`, medicoId, pacienteId: n % 2 ? p1 : p2, inicio: iso(start),
      fim: iso(start + minutes * 60_000), status, observacoes: null, motivoCancelamento: null, chegouEm: null, encaixe, criadaEm: 'x', atualizadaEm: 'x',
    };
  };
  // Written straight to the store: past consultas cannot be booked, and old durations no longer can.
  await t.container.store!.transact((tx) => {
    for (const c of [
      consulta(anh, '2026-11-30T08:00:00-03:00', 30, 'realizada'),
      consulta(anh, '2026-11-30T08:30:00-03:00', 30, 'faltou'),
      consulta(anh, '2026-11-30T09:00:00-03:00', 30, 'cancelada'),
      consulta(anh, '2026-11-30T09:30:00-03:00', 30, 'faltou'),
      consulta(anh, '2026-12-07T08:00:00-03:00', 30, 'agendada'),
      consulta(anh, '2026-12-07T08:00:00-03:00', 15, 'confirmada', true),
      consulta(anh, '2026-12-07T11:00:00-03:00', 30, 'agendada'),
      consulta(sukru, '2026-11-30T08:00:00-03:00', 20, 'realizada'),
      consulta(sukru, '2026-11-30T08:20:00-03:00', 20, 'realizada'),
      consulta(sukru, '2026-12-07T08:00:00-03:00', 20, 'agendada'),
      consulta(sukru, '2026-12-07T08:20:00-03:00', 20, 'agendada'),
      consulta(sukru, '2026-12-07T08:40:00-03:00', 20, 'agendada'),
      consulta(longo, '2026-12-07T09:00:00-03:00', 30, 'agendada'),
    ]) {
      tx.put('consultas', c as never);
    }
  });
}

async function generate(t: App): Promise<Buffer> {
  const res = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-11-30', ate: '2026-12-07' }).expect(202);
  await t.container.queue.onIdle();
  const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
  expect(task.body).toMatchObject({ status: 'concluida', resultado: { consultas: 13 } });
  return downloadPdf(t.app, task.body.resultado.nome);
}

describe('PDF report v2', () => {
  it('when médicos and pacientes have Vietnamese, Turkish and very long names, then the report prints them whole and exactly', async () => {
    const t = await makeApp({ env: { CLINIC_NAME: 'Clínica São Lucas' } });
    await knownClinic(t);
    const pdf = await generate(t);
    const { text } = await new PDFParse({ data: pdf }).getText();

    for (const nome of ['Nguyễn Thị Ánh', 'Nguyễn Văn Bình', 'Şükrü Öztürk', 'İlkay Gündoğan']) expect(text).toContain(nome);
    // Wrapped, not cut: every word of the long names, in order, and no ellipsis anywhere.
    for (const nome of [LONG_NAME, LONG_PACIENTE]) {
      expect(text).toMatch(new RegExp(nome.split(' ').join('[\\s\\S]*?')));
    }
    expect(text).not.toContain('…');
    // The fonts are embedded (a subset of DejaVu Sans), not the standard WinAnsi fonts.
    expect(pdf.toString('latin1')).toMatch(/\/FontFile2/);
    expect(pdf.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+DejaVuSans/);
  });

  it('when consultas hold slots, then occupancy counts slots held (never above 100%) and the no-show rate is per médico', async () => {
    const t = await makeApp();
    await knownClinic(t);
    const { text } = await new PDFParse({ data: await generate(t) }).getText();

    // médico, especialidade, consultas, horários, ocupados, fora do horário, ocupação, faltas (faltou/iniciadas)
    expect(text).toMatch(/Nguyễn Thị Ánh\s+Cardiologia\s+7\s+8\s+4\s+1\s+50,0%\s+66,7% \(2\/3\)/);
    expect(text).toMatch(/Şükrü Öztürk\s+Cardiologia\s+5\s+4\s+4\s+0\s+100,0%\s+0,0% \(0\/2\)/);
    expect(text).toMatch(/İlkay Gündoğan\s+Cardiologia\s+0\s+8\s+0\s+0\s+0,0%\s+—/);
    expect(text).toMatch(/Cardiologia\s+1\s+8\s+1\s+0\s+12,5%\s+—/);
    expect(text).not.toContain('125');
    // The report says how it counts.
    expect(text).toMatch(/todos\s+os\s+status\s+exceto\s+cancelada/);
    expect(text).toMatch(/nunca\s+passa\s+de\s+100%/);
    expect(text).toMatch(/Faltas:\s+consultas\s+com\s+status\s+faltou/);
    // Totals list the v2 statuses.
    expect(text).toMatch(/Confirmada\s+1/);
    expect(text).toMatch(/Faltou\s+2/);
    expect(text).toMatch(/Total\s+13/);
  });

  it('when a clinic holiday closes a date of the period, then its slots are not offered and the report names it', async () => {
    const t = await makeApp();
    await request(t.app).post('/medicos').send(medicoBody({ nome: 'İlkay Gündoğan', horarios: HOURS('10:00') })).expect(201);
    await request(t.app).post('/feriados').send({ data: '2026-12-07', nome: 'Aniversário da cidade' }).expect(201);
    const res = await request(t.app).post('/sistema/tasks/relatorio').send({ de: '2026-11-30', ate: '2026-12-07' }).expect(202);
    await t.container.queue.onIdle();
    const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
    const { text } = await new PDFParse({ data: await downloadPdf(t.app, task.body.resultado.nome) }).getText();
    expect(text).toContain('Clínica fechada: 07/12/2026 (Aniversário da cidade)');
    expect(text).toMatch(/İlkay Gündoğan\s+Cardiologia\s+0\s+4\s+0\s+0\s+0,0%/); // 4 slots: 11-30 only
  });

  it('when generated, then a bar chart of occupancy per médico is drawn with bars proportional to the figures', async () => {
    const t = await makeApp();
    await knownClinic(t);
    const pdf = await generate(t);
    const { text } = await new PDFParse({ data: pdf }).getText();
    expect(text).toContain(CHART_TITLE);
    expect(text).toMatch(/0%\s+25%\s+50%\s+75%\s+100%/);

    // Bars are filled rectangles 10 points high (`x y w h re`): one per médico with occupancy above zero, in the
    // médicos' order (Maria…, Nguyễn, Şükrü; İlkay has none), as long as 12,5%, 50% and 100% of the axis.
    const bars = [...contentStreams(pdf).matchAll(/([\d.]+) ([\d.]+) ([\d.]+) 10 re/g)].map((m) => Number(m[3]));
    expect(bars).toHaveLength(3);
    const [longo, anh, sukru] = bars as [number, number, number];
    expect(sukru).toBeGreaterThan(200);
    expect(anh / sukru).toBeCloseTo(0.5, 3);
    expect(longo / sukru).toBeCloseTo(0.125, 3);
  });
});
