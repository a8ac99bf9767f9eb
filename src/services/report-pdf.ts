import PDFDocument from 'pdfkit';
import type { Writable } from 'node:stream';
import { brDate, brDateTime, type ReportData } from './report-data.js';

const MARGIN = 50;
const ROW = 16;
const STATUS_PT: Record<string, string> = { agendada: 'Agendada', cancelada: 'Cancelada', realizada: 'Realizada', faltou: 'Faltou' };

/** Cuts text to a number of characters, with an ellipsis (cheaper than measuring each string). */
const fit = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars - 1)}…` : text);

/**
 * Lays the report out on A4 pages: a title block, totals by status, per-médico occupancy, then the
 * appointments, paged with a repeated column header; every page gets a header and a "Página X de Y" footer.
 * CPU-bound for large periods: it runs in a worker thread (see report-worker.ts).
 */
export function writeReportPdf(data: ReportData, out: Writable, onProgress: (percent: number) => void): Promise<number> {
  const { params } = data;
  const doc = new PDFDocument({ size: 'A4', margin: MARGIN, bufferPages: true, info: { Title: `Relatório de consultas — ${params.clinicName}` } });
  doc.pipe(out);
  const width = doc.page.width - 2 * MARGIN;
  const bottom = () => doc.page.height - MARGIN - 20;
  const periodo = `${brDate(params.de)} a ${brDate(params.ate)}`;
  let y = MARGIN + 20;

  const newPage = () => {
    doc.addPage();
    y = MARGIN + 20;
  };
  const ensure = (height: number, onBreak?: () => void) => {
    if (y + height > bottom()) {
      newPage();
      onBreak?.();
    }
  };
  const cells = (values: string[], columns: number[], bold = false) => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(9);
    let x = MARGIN;
    values.forEach((value, i) => {
      doc.text(value, x + 2, y + 4, { lineBreak: false });
      x += columns[i]!;
    });
    y += ROW;
  };
  const table = (title: string, headers: string[], columns: number[], rows: string[][], progress?: (i: number) => void) => {
    ensure(ROW * 3);
    doc.font('Helvetica-Bold').fontSize(12).text(title, MARGIN, y);
    y += 20;
    const header = () => {
      doc.rect(MARGIN, y, width, ROW).fill('#e8eef4').fillColor('black');
      cells(headers, columns, true);
    };
    header();
    rows.forEach((row, i) => {
      ensure(ROW, header);
      if (i % 2 === 1) doc.rect(MARGIN, y, width, ROW).fill('#f7f7f7').fillColor('black');
      cells(row, columns);
      if (progress && i % 2000 === 0) progress(i);
    });
    y += 14;
  };

  // Title block.
  doc.font('Helvetica-Bold').fontSize(18).text('Relatório de consultas', MARGIN, y);
  y += 26;
  doc.font('Helvetica').fontSize(11);
  for (const line of [
    params.clinicName,
    `Período: ${periodo}`,
    `Gerado em: ${brDateTime(params.geradoEm)}`,
    ...(params.medicoId ? [`Médico: ${data.medicos[0]?.nome ?? params.medicoId}`] : []),
  ]) {
    doc.text(line, MARGIN, y);
    y += 16;
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
  if (data.rows.length === 0) doc.font('Helvetica-Oblique').fontSize(10).text('Nenhuma consulta no período.', MARGIN, y);

  // Header and footer on every page, now that the number of pages is known.
  const range = doc.bufferedPageRange();
  for (let i = 0; i < range.count; i++) {
    doc.switchToPage(range.start + i);
    const margins = doc.page.margins;
    doc.page.margins = { ...margins, top: 0, bottom: 0 };
    doc.font('Helvetica').fontSize(8).fillColor('#555555');
    doc.text(`${params.clinicName} — Relatório de consultas — ${periodo}`, MARGIN, MARGIN - 20, { lineBreak: false });
    doc.text(`Gerado em ${brDateTime(params.geradoEm)}`, MARGIN, doc.page.height - MARGIN + 5, { lineBreak: false });
    const label = `Página ${i + 1} de ${range.count}`;
    doc.text(label, doc.page.width - MARGIN - doc.widthOfString(label), doc.page.height - MARGIN + 5, { lineBreak: false });
    doc.fillColor('black');
    doc.page.margins = margins;
  }
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  doc.end();
  return finished.then(() => range.count);
}
