import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The font faces the report uses, by role. */
export interface ReportFonts {
  regular: Buffer;
  bold: Buffer;
  italic: Buffer;
}

const FILES: Record<keyof ReportFonts, string> = {
  regular: 'DejaVuSans.ttf',
  bold: 'DejaVuSans-Bold.ttf',
  italic: 'DejaVuSans-Oblique.ttf',
};

/**
 * Reads DejaVu Sans (the `dejavu-fonts-ttf` package) for embedding in the PDF. pdfkit's built-in fonts are the
 * 14 standard PDF fonts in WinAnsi encoding: they cannot print Vietnamese or Turkish letters (`ễ`, `İ`, `ğ`, `ş`)
 * and garble them. DejaVu covers Latin, Vietnamese, Turkish, Greek and Cyrillic; pdfkit embeds only the glyphs
 * used (a subset), so a report grows by tens of kilobytes, not by the whole font.
 */
export function loadReportFonts(): ReportFonts {
  const require = createRequire(import.meta.url);
  const read = (file: string) => readFileSync(require.resolve(`dejavu-fonts-ttf/ttf/${file}`));
  return { regular: read(FILES.regular), bold: read(FILES.bold), italic: read(FILES.italic) };
}
