import { describe, expect, it } from 'vitest';
import { ALL_COLLECTIONS } from '../../src/repositories/collections.js';
import { COLECAO_ROTULOS, restoredRows } from '../../web/src/pages/admin/admin-logic.js';

describe('the restore result as the admin reads it', () => {
  it('when a restore counts every collection of the server, then the user sees pt-BR names and no internal collection', () => {
    const contagens = Object.fromEntries(ALL_COLLECTIONS.map((c, i) => [c, i + 1]));
    const rows = restoredRows(contagens);
    expect(rows.map((r) => r.rotulo)).toEqual(['Médicos', 'Pacientes', 'Consultas', 'Lista de espera', 'Bloqueios de agenda', 'Feriados da clínica', 'Usuários']);
    for (const internal of ['idempotencia', 'sessoes', 'auditoria_pendente']) expect(rows.some((r) => r.colecao === internal)).toBe(false);
    // Each count stays with its collection.
    for (const row of rows) expect(row.registros).toBe(contagens[row.colecao]);
  });

  it('when the server has a collection, then the app names it or marks it internal', () => {
    expect(Object.keys(COLECAO_ROTULOS).sort()).toEqual([...ALL_COLLECTIONS].sort());
  });

  it('when a newer server counts a collection this app does not know, then it is shown by its own name, last', () => {
    const rows = restoredRows({ prontuarios: 4, medicos: 2 });
    expect(rows).toEqual([
      { colecao: 'medicos', rotulo: 'Médicos', registros: 2 },
      { colecao: 'prontuarios', rotulo: 'prontuarios', registros: 4 },
    ]);
  });

  it('when a collection is missing from the counts, then no row is made up for it', () => {
    expect(restoredRows({ pacientes: 0 })).toEqual([{ colecao: 'pacientes', rotulo: 'Pacientes', registros: 0 }]);
  });
});
