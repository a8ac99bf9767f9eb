import { FONT, MARGIN, type Flow } from './report-layout.js';
import type { MedicoReport } from './report-data.js';

/** Height of each bar, in points (tests find the bars by it in the content stream). */
export const BAR_HEIGHT = 10;
export const CHART_TITLE = 'Gráfico: ocupação por médico';
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 70;
const TICKS = [0, 25, 50, 75, 100];
const BAR_COLOR = '#3b6ea5';
const GRID_COLOR = '#c8c8c8';

/** `83.333` → `83,3%` (pt-BR decimal comma). */
export const percent = (value: number) => `${value.toFixed(1).replace('.', ',')}%`;

/**
 * A horizontal bar chart of occupancy per médico, drawn with vector graphics (rectangles and lines): one row per
 * médico with its name (wrapped), a bar as long as its occupancy on a 0–100% axis, and the figure after the bar.
 * Rows flow like table rows: a page break repeats the axis labels.
 */
export function occupancyChart(flow: Flow, medicos: MedicoReport[]): void {
  const size = 8;
  const plotX = MARGIN + LABEL_WIDTH + 8;
  const plotWidth = flow.width - LABEL_WIDTH - 8 - VALUE_WIDTH;
  const xOf = (pct: number) => plotX + (plotWidth * pct) / 100;
  const axisHeight = flow.lineHeight('regular', size) + 4;
  const rowHeight = (m: MedicoReport) => Math.max(BAR_HEIGHT + 8, flow.textHeight(m.nome, 'regular', size, LABEL_WIDTH) + 6);

  const axis = () => {
    const doc = flow.doc;
    if (doc) {
      doc.fillColor('#555555');
      for (const tick of TICKS) {
        const label = `${tick}%`;
        const width = flow.measure.font(FONT.regular).fontSize(size).widthOfString(label);
        flow.draw(label, 'regular', size, xOf(tick) - width / 2, flow.y, width + 1);
      }
      doc.fillColor('black');
    }
    flow.y += axisHeight;
  };

  const title = flow.lineHeight('bold', 12) + 6;
  flow.ensure(title + axisHeight + (medicos[0] ? rowHeight(medicos[0]) : 0));
  flow.draw(CHART_TITLE, 'bold', 12, MARGIN, flow.y, flow.width);
  flow.y += title;
  if (medicos.length === 0) {
    flow.paragraph('Nenhum médico no período.', 'italic', 9);
    return;
  }
  axis();
  // The axis line closes the chart's part on each page.
  const baseline = () =>
    flow.doc?.lineWidth(0.75).strokeColor('#888888').moveTo(plotX, flow.y).lineTo(xOf(100), flow.y).stroke().strokeColor('black');
  for (const m of medicos) {
    const height = rowHeight(m);
    flow.ensure(height, axis, baseline);
    const doc = flow.doc;
    if (doc) {
      // Grid lines first, so the bar covers them.
      doc.lineWidth(0.5).strokeColor(GRID_COLOR);
      for (const tick of TICKS) doc.moveTo(xOf(tick), flow.y).lineTo(xOf(tick), flow.y + height).stroke();
      const barY = flow.y + (height - BAR_HEIGHT) / 2;
      if (m.ocupacao !== null && m.ocupacao > 0) {
        doc.rect(plotX, barY, (plotWidth * m.ocupacao) / 100, BAR_HEIGHT).fill(BAR_COLOR);
      }
      doc.fillColor('black').strokeColor('black');
      const value = m.ocupacao === null ? 'sem horários' : percent(m.ocupacao);
      flow.draw(value, 'regular', size, xOf(100) + 6, barY + (BAR_HEIGHT - flow.lineHeight('regular', size)) / 2 + 0.5, VALUE_WIDTH - 6);
    }
    // The name, however many lines it wraps to, is centred on its bar.
    flow.draw(m.nome, 'regular', size, MARGIN, flow.y + (height - flow.textHeight(m.nome, 'regular', size, LABEL_WIDTH)) / 2 + 0.5, LABEL_WIDTH);
    flow.y += height;
  }
  baseline();
  flow.y += 14;
}
