import PDFDocument from 'pdfkit';
import type { Writable } from 'node:stream';
import type { ReportFonts } from '../infra/report-fonts.js';
import { occupancyChart, percent } from './report-chart.js';
import { brDate, brDateTime, type ReportData } from './report-data.js';
import { A4, FONT, Flow, MARGIN } from './report-layout.js';

/** Statuses in the order of a consulta's day; a status unknown here is listed after them, as stored. */
const STATUS_PT: Record<string, string> = {
  agendada: 'Agendada',
  confirmada: 'Confirmada',
  aguardando: 'Aguardando',
  em_atendimento: 'Em atendimento',
  realizada: 'Realizada',
  faltou: 'Faltou',
  cancelada: 'Cancelada',
};

export const OCCUPANCY_NOTE =
  'Ocupação: horários de atendimento do período com ao menos uma consulta que segura o horário, divididos pelos ' +
  'horários oferecidos. Seguram o horário as consultas de todos os status exceto cancelada (agendada, confirmada, ' +
  'aguardando, em atendimento, realizada e faltou). Um horário com encaixe conta uma vez só, e a ocupação nunca ' +
  'passa de 100%. Não são oferecidos os horários em feriados que fecham a clínica nem em bloqueios do médico. ' +
  'Consultas que não caem em nenhum horário oferecido (horário de atendimento mudado depois, bloqueio ou feriado) ' +
  'aparecem na coluna "Fora do horário" e não entram na ocupação.';
export const NO_SHOW_NOTE =
  'Faltas: consultas com status faltou divididas pelas consultas já iniciadas na hora da geração do relatório ' +
  'que não foram canceladas.';

function newDocument(fonts: ReportFonts, title: string): PDFKit.PDFDocument {
  const doc = new PDFDocument({ size: 'A4', margin: MARGIN, info: { Title: title } });
  doc.registerFont(FONT.regular, fonts.regular);
  doc.registerFont(FONT.bold, fonts.bold);
  doc.registerFont(FONT.italic, fonts.italic);
  return doc.font(FONT.regular);
}

/**
 * Lays the report out on A4 pages with the embedded fonts: a title block, totals by status, per-médico
 * occupancy and no-show rate with how they are counted, a bar chart of occupancy, then the appointments; every
 * page gets a header and a "Página X de Y" footer.
 *
 * The layout runs twice: once only measuring, to count the pages, then for real, writing each page (footer
 * included) as it goes. Pages are streamed out instead of being buffered until the end, so memory stays flat
 * however long the report is. CPU-bound for large periods: it runs in a worker thread (see report-worker.ts).
 */
export function writeReportPdf(data: ReportData, fonts: ReportFonts, out: Writable, onProgress: (percent: number) => void): Promise<number> {
  const title = `Relatório de consultas — ${data.params.clinicName}`;
  // The measuring document is never ended nor read: it only lends its fonts' metrics.
  const measure = newDocument(fonts, title);
  const pages = layout(data, undefined, measure, 0, () => undefined);
  const doc = newDocument(fonts, title);
  doc.pipe(out);
  layout(data, doc, doc, pages, onProgress);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  doc.end();
  return finished.then(() => pages);
}

/** Lays the report out on `doc` (or only counts pages when there is none); returns the number of pages. */
function layout(
  data: ReportData,
  doc: PDFKit.PDFDocument | undefined,
  measure: PDFKit.PDFDocument,
  totalPages: number,
  onProgress: (percent: number) => void,
): number {
  const { params } = data;
  const periodo = `${brDate(params.de)} a ${brDate(params.ate)}`;
  const decorate = (flow: Flow) => {
    if (!doc) return;
    const margins = doc.page.margins;
    doc.page.margins = { ...margins, top: 0, bottom: 0 }; // writing in the margins must not open a page
    doc.font(FONT.regular).fontSize(8).fillColor('#555555');
    const label = `Página ${flow.page} de ${totalPages}`;
    const labelWidth = doc.widthOfString(label);
    // One line each: a very long clinic name ends in an ellipsis here (it is printed whole in the title block).
    doc.text(`${params.clinicName} — Relatório de consultas — ${periodo}`, MARGIN, MARGIN - 20, { width: flow.width, height: 10, ellipsis: true });
    doc.text(`Gerado em ${brDateTime(params.geradoEm)}`, MARGIN, A4.height - MARGIN + 5, { lineBreak: false });
    doc.text(label, A4.width - MARGIN - labelWidth, A4.height - MARGIN + 5, { lineBreak: false });
    doc.moveTo(MARGIN, MARGIN - 7).lineTo(A4.width - MARGIN, MARGIN - 7).lineWidth(0.5).strokeColor('#bbbbbb').stroke();
    doc.fillColor('black').strokeColor('black');
    doc.page.margins = margins;
  };
  const flow = new Flow(doc, measure, decorate);

  flow.paragraph('Relatório de consultas', 'bold', 18, 8);
  flow.paragraph(params.clinicName, 'regular', 11, 2);
  flow.paragraph(`Período: ${periodo}`, 'regular', 11, 2);
  flow.paragraph(`Gerado em: ${brDateTime(params.geradoEm)}`, 'regular', 11, 2);
  if (params.medicoId) flow.paragraph(`Médico: ${data.medicos[0]?.nome ?? params.medicoId}`, 'regular', 11, 2);
  if (data.fechados.length > 0) {
    flow.paragraph(`Clínica fechada: ${data.fechados.map((f) => `${brDate(f.data)} (${f.nome})`).join('; ')}`, 'regular', 9, 2, '#444444');
  }
  flow.y += 12;

  const known = Object.keys(STATUS_PT);
  const statuses = [...known, ...Object.keys(data.totals).filter((s) => !known.includes(s))];
  flow.table({
    title: 'Totais por status',
    columns: [{ header: 'Status', width: flow.width - 100 }, { header: 'Consultas', width: 100, align: 'right' }],
    rows: [...statuses.map((s) => [STATUS_PT[s] ?? s, String(data.totals[s] ?? 0)]), ['Total', String(data.total)]],
  });

  flow.table({
    title: 'Ocupação e faltas por médico',
    columns: [
      { header: 'Médico', width: 112 },
      { header: 'Especialidade', width: 72 },
      { header: 'Consultas', width: 51, align: 'right' },
      { header: 'Horários', width: 46, align: 'right' },
      { header: 'Ocupados', width: 51, align: 'right' },
      { header: 'Fora do horário', width: 42, align: 'right' },
      { header: 'Ocupação', width: 51, align: 'right' },
      { header: 'Faltas', width: flow.width - 425, align: 'right' },
    ],
    size: 8, // so that every header word fits its column whole
    rows: data.medicos.map((m) => [
      m.nome,
      m.especialidade,
      String(m.consultas),
      String(m.horarios),
      String(m.ocupados),
      String(m.foraDosHorarios),
      m.ocupacao === null ? '—' : percent(m.ocupacao),
      m.taxaFaltas === null ? '—' : `${percent(m.taxaFaltas)} (${m.faltas}/${m.iniciadas})`,
    ]),
  });
  flow.y -= 8;
  flow.paragraph(OCCUPANCY_NOTE, 'italic', 7.5, 3, '#444444');
  flow.paragraph(NO_SHOW_NOTE, 'italic', 7.5, 14, '#444444');

  occupancyChart(flow, data.medicos);

  flow.table({
    title: 'Consultas',
    columns: [
      { header: 'Data e hora', width: 92 },
      { header: 'Médico', width: 152 },
      { header: 'Paciente', width: 168 },
      { header: 'Status', width: flow.width - 412 },
    ],
    rows: data.rows.map((r) => [r.quando, r.medico, r.paciente, STATUS_PT[r.status] ?? r.status]),
    progress: (i) => onProgress(10 + (80 * i) / Math.max(1, data.rows.length)),
  });
  if (data.rows.length === 0) flow.paragraph('Nenhuma consulta no período.', 'italic', 10);
  return flow.page;
}
