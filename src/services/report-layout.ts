/**
 * A top-to-bottom flow of blocks over A4 pages: paragraphs and tables whose cells wrap, rows that grow to
 * fit, and page breaks that repeat a table's header. Every position is plain arithmetic on measured text, so
 * the same flow runs twice: first without a document to count the pages ("Página X de Y" needs the total),
 * then for real. Measuring always uses a document (`measure`) that holds the same fonts.
 */

/** Names the fonts are registered under (see writeReportPdf); every text of the report uses one of them. */
export const FONT = { regular: 'Texto', bold: 'Texto-Negrito', italic: 'Texto-Italico' } as const;
export type FontRole = keyof typeof FONT;

export const MARGIN = 50;
export const A4 = { width: 595.28, height: 841.89 };
const PAD_X = 3;
const PAD_Y = 3;

export interface Column {
  header: string;
  width: number;
  align?: 'left' | 'right';
}

export interface TableSpec {
  title: string;
  columns: Column[];
  rows: string[][];
  size?: number;
  /** Called every so many rows with the index reached, for progress reports. */
  progress?: (i: number) => void;
}

export class Flow {
  page = 1;
  y = MARGIN + 20;
  readonly width = A4.width - 2 * MARGIN;
  /** Lowest y a block may reach: the footer lives below it. */
  readonly bottom = A4.height - MARGIN - 20;
  private readonly heights = new Map<string, number>();

  /**
   * @param doc the document to draw on, or undefined to only lay out (count pages)
   * @param measure a document with the same fonts, used for measuring text only
   * @param decorate draws the header and footer of the current page
   */
  constructor(
    readonly doc: PDFKit.PDFDocument | undefined,
    readonly measure: PDFKit.PDFDocument,
    private readonly decorate: (flow: Flow) => void,
  ) {
    decorate(this);
  }

  newPage(): void {
    this.page++;
    this.doc?.addPage();
    this.y = MARGIN + 20;
    this.decorate(this);
  }

  /**
   * Opens a page when `height` does not fit below y; `beforeBreak` closes what the old page shows, `onBreak`
   * then redraws what each page repeats.
   */
  ensure(height: number, onBreak?: () => void, beforeBreak?: () => void): void {
    if (this.y + height > this.bottom && this.y > MARGIN + 20) {
      beforeBreak?.();
      this.newPage();
      onBreak?.();
    }
  }

  /** Height of `text` wrapped into `width` (one line when it fits, which is measured cheaply first). */
  textHeight(text: string, role: FontRole, size: number, width: number): number {
    const m = this.measure.font(FONT[role]).fontSize(size);
    const oneLine = this.lineHeight(role, size);
    if (m.widthOfString(text) <= width) return oneLine;
    const key = `${role}|${size}|${width}|${text}`;
    let height = this.heights.get(key);
    if (height === undefined) {
      if (this.heights.size > 10_000) this.heights.clear(); // bounded: names repeat, free text does not
      height = m.heightOfString(text, { width });
      this.heights.set(key, height);
    }
    return height;
  }

  lineHeight(role: FontRole, size: number): number {
    const key = `${role}|${size}`;
    let height = this.heights.get(key);
    if (height === undefined) {
      height = this.measure.font(FONT[role]).fontSize(size).heightOfString('Ág', { width: 1000 });
      this.heights.set(key, height);
    }
    return height;
  }

  /** Draws wrapped text at (x, y) inside `width`; right-aligned text is placed by its measured width. */
  draw(text: string, role: FontRole, size: number, x: number, y: number, width: number, align: 'left' | 'right' = 'left'): void {
    const doc = this.doc;
    if (!doc) return;
    doc.font(FONT[role]).fontSize(size);
    const textWidth = doc.widthOfString(text);
    if (textWidth <= width) {
      doc.text(text, align === 'right' ? x + width - textWidth : x, y, { lineBreak: false });
    } else {
      doc.text(text, x, y, { width, align });
    }
  }

  /** A paragraph across the page width, wrapped; breaks to a new page when it does not fit. */
  paragraph(text: string, role: FontRole, size: number, gapAfter = 4, color = 'black'): void {
    const height = this.textHeight(text, role, size, this.width);
    this.ensure(height);
    this.doc?.fillColor(color);
    this.draw(text, role, size, MARGIN, this.y, this.width);
    this.doc?.fillColor('black');
    this.y += height + gapAfter;
  }

  /**
   * A titled table: every cell wraps inside its column, a row is as tall as its tallest cell, and a page break
   * repeats the column header. The title never stays alone at a page's foot.
   */
  table({ title, columns, rows, size = 8.5, progress }: TableSpec): void {
    const titleHeight = this.lineHeight('bold', 12) + 6;
    const headerHeight = this.rowHeight(columns.map((c) => c.header), columns, 'bold', size);
    this.ensure(titleHeight + headerHeight + (rows[0] ? this.rowHeight(rows[0], columns, 'regular', size) : 0));
    this.draw(title, 'bold', 12, MARGIN, this.y, this.width);
    this.y += titleHeight;
    const header = () => this.row(columns.map((c) => c.header), columns, 'bold', size, '#e8eef4', headerHeight);
    header();
    rows.forEach((cells, i) => {
      const height = this.rowHeight(cells, columns, 'regular', size);
      this.ensure(height, header);
      this.row(cells, columns, 'regular', size, i % 2 === 1 ? '#f4f4f4' : undefined, height);
      if (progress && i % 2000 === 0) progress(i);
    });
    this.y += 14;
  }

  private rowHeight(cells: string[], columns: Column[], role: FontRole, size: number): number {
    let height = 0;
    cells.forEach((cell, i) => {
      height = Math.max(height, this.textHeight(cell, role, size, columns[i]!.width - 2 * PAD_X));
    });
    return height + 2 * PAD_Y;
  }

  private row(cells: string[], columns: Column[], role: FontRole, size: number, band: string | undefined, height: number): void {
    if (this.doc && band) this.doc.rect(MARGIN, this.y, this.width, height).fill(band).fillColor('black');
    let x = MARGIN;
    cells.forEach((cell, i) => {
      const column = columns[i]!;
      this.draw(cell, role, size, x + PAD_X, this.y + PAD_Y, column.width - 2 * PAD_X, column.align);
      x += column.width;
    });
    this.y += height;
  }
}
