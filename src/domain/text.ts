/** Lower case without accents: how names and especialidades are compared (the same rule as the drivers' searches). */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase();
}
