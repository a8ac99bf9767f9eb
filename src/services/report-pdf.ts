import PDFDocument from 'pdfkit';
import type { Writable } from 'node:stream';
import { brDate, brDateTime, type ReportData } from './report-data.js';

const MARGIN = 50;
const ROW = 16;
const A4 = { width: 595.28, height: 841.89 };
const STATUS_PT: Record<string, string> = { agendada: 'Agendada', cancelada: 'Cancelada', realizada: 'Realizada', faltou: 'Faltou' };

/** Cuts text to a number of characters, with an ellipsis (cheaper than measuring each string). */
const fit = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars - 1)}…` : text);

/**
 * Lays the report out on A4 pages: a title block, totals by status, per-médico occupancy, then the
 * appointments, paged with a repeated column header; every page gets a header and a "Página X de Y" footer.
 *
 * The layout is pure arithmetic on positions, so it runs twice: once without a document to count the pages,
 * then for real, writing each page (footer included) as it goes. Pages are streamed out instead of being
 * buffered until the end, so memory stays flat however long the report is. CPU-bound for large periods: it
 * runs in a worker thread (see report-worker.ts).
 */
export function writeReportPdf(data: ReportData, out: Writable, onProgress: (percent: number) => void): Promise<number> {
  const pages = layout(data, undefined, 0, () => undefined);
  const doc = new PDFDocument({ size: 'A4', margin: MARGIN, info: { Title: `Relatório de consultas — ${data.params.clinicName}` } });
  doc.pipe(out);
  layout(data, doc, pages, onProgress);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  doc.end();
  return finished.then(() => pages);
}

/** Lays the report out on `doc` (or only counts pages when there is none); returns the number of pages. */
function layout(data: ReportData, doc: PDFKit.PDFDocument | undefined, totalPages: number, onProgress: (percent: number) => void): number {
  const { params } = data;
  const width = A4.width - 2 * MARGIN;
  const bottom = A4.height - MARGIN - 20;
  const periodo = `${brDate(params.de)} a ${brDate(params.ate)}`;
  let page = 1;
  let y = MARGIN + 20;

  const decorate = () => {
    if (!doc) return;
    const margins = doc.page.margins;
    doc.page.margins = { ...margins, top: 0, bottom: 0 }; // writing in the margins must not open a page
    doc.font('Helvetica').fontSize(8).fillColor('#555555');
    doc.text(`${params.clinicName} — Relatório de consultas — ${periodo}`, MARGIN, MARGIN - 20, { lineBreak: false });
    doc.text(`Gerado em ${brDateTime(params.geradoEm)}`, MARGIN, A4.height - MARGIN + 5, { lineBreak: false });
    const label = `Página ${page} de ${totalPages}`;
    doc.text(label, A4.width - MARGIN - doc.widthOfString(label), A4.height - MARGIN + 5, { lineBreak: false });
    doc.fillColor('black');
    doc.page.margins = margins;
  };
  const newPage = () => {
    page++;
    doc?.addPage();
    y = MARGIN + 20;
    decorate();
  };
  const ensure = (height: number, onBreak?: () => void) => {
    if (y + height > bottom) {
      newPage();
      onBreak?.();
    }
  };
  const line = (text: string, font: string, size: number, advance: number) => {
    doc?.font(font).fontSize(size).text(text, MARGIN, y, { lineBreak: false });
    y += advance;
  };
  const cells = (values: string[], columns: number[], bold = false) => {
    if (doc) {
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(9);
      let x = MARGIN;
      values.forEach((value, i) => {
        doc.text(value, x + 2, y + 4, { lineBreak: false });
        x += columns[i]!;
      });
    }
    y += ROW;
  };
  const band = (color: string) => doc?.rect(MARGIN, y, width, ROW).fill(color).fillColor('black');
  const table = (title: string, headers: string[], columns: number[], rows: string[][], progress?: (i: number) => void) => {
    ensure(ROW * 3);
    line(title, 'Helvetica-Bold', 12, 20);
    const header = () => {
      band('#e8eef4');
      cells(headers, columns, true);
    };
    header();
    rows.forEach((row, i) => {
      ensure(ROW, header);
      if (i % 2 === 1) band('#f7f7f7');
      cells(row, columns);
      if (progress && i % 2000 === 0) progress(i);
    });
    y += 14;
  };

  decorate();
  line('Relatório de consultas', 'Helvetica-Bold', 18, 26);
  for (const text of [
    params.clinicName,
    `Período: ${periodo}`,
    `Gerado em: ${brDateTime(params.geradoEm)}`,
    ...(params.medicoId ? [`Médico: ${data.medicos[0]?.nome ?? params.medicoId}`] : []),
  ]) {
    line(text, 'Helvetica', 11, 16);
  }
  y += 10;

  table(
    'Totais por status',
    ['Status', 'Consultas'],
    [width - 100, 100],
    [...Object.entries(data.totals).map(([status, n]) => [STATUS_PT[status] ?? status, String(n)]), ['Total', String(data.total)]],
  );
  table(
    'Ocupação por médico',
    ['Médico', 'Especialidade', 'Consultas', 'Horários', 'Ocupação'],
    [165, 125, 60, 60, width - 410],
    data.medicos.map((m) => [
      fit(m.nome, 32),
      fit(m.especialidade, 24),
      String(m.consultas),
      String(m.horarios),
      m.horarios === 0 ? '—' : `${((100 * m.ocupados) / m.horarios).toFixed(1).replace('.', ',')}%`,
    ]),
  );
  table(
    'Consultas',
    ['Data e hora', 'Médico', 'Paciente', 'Status'],
    [95, 160, 170, width - 425],
    data.rows.map((r) => [r.quando, fit(r.medico, 30), fit(r.paciente, 32), STATUS_PT[r.status] ?? r.status]),
    (i) => onProgress(10 + (80 * i) / Math.max(1, data.rows.length)),
  );
  if (data.rows.length === 0) line('Nenhuma consulta no período.', 'Helvetica-Oblique', 10, 16);
  return page;
}
