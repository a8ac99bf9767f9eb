import { describe, expect, it } from 'vitest';
import { LONGEST_CONSULTA_MS } from '../../src/domain/slots.js';
import { checkRecord } from '../../src/services/backup-archive.js';
import { at, consulta, medico, paciente } from '../storage/port-fixtures.js';

/**
 * Every overlap query (both drivers, the agenda, bloqueios) looks back LONGEST_CONSULTA_MS for a consulta that may
 * overlap: a restore must not bring in a longer one, which they would miss.
 */
describe('stored records keep the limits of the API (backups are checked with them)', () => {
  const lasting = (minutes: number) => {
    const inicio = at('2031-03-03', '09:00');
    return consulta(medico().id, paciente().id, inicio, new Date(Date.parse(inicio) + minutes * 60_000).toISOString());
  };

  it('a consulta of the longest allowed duration passes; a longer one, or one that ends before it starts, is refused', () => {
    expect(LONGEST_CONSULTA_MS).toBe(240 * 60_000);
    expect(() => checkRecord('consultas', lasting(240), 0)).not.toThrow();
    expect(() => checkRecord('consultas', lasting(241), 0)).toThrow(/consultas fora do esquema: fim .*240 minutos/);
    expect(() => checkRecord('consultas', lasting(0), 0)).toThrow(/fora do esquema/);
    expect(() => checkRecord('consultas', lasting(-30), 0)).toThrow(/fora do esquema/);
  });

  it('a médico whose consultas would last longer than the API allows is refused', () => {
    expect(() => checkRecord('medicos', { ...medico(), duracaoConsultaMin: 240 }, 0)).not.toThrow();
    expect(() => checkRecord('medicos', { ...medico(), duracaoConsultaMin: 300 }, 0)).toThrow(/medicos fora do esquema: duracaoConsultaMin/);
    expect(() => checkRecord('medicos', { ...medico(), duracaoConsultaMin: 0 }, 0)).toThrow(/fora do esquema/);
  });
});
