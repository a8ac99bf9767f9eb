import { describe, expect, it } from 'vitest';
import { allowedActions } from '../../web/src/agenda/actions.js';

const inicio = '2026-12-01T10:00:00-03:00';
const at = (iso: string) => Date.parse(iso);

describe('which actions a consulta allows now', () => {
  it('when agendada a day ahead, then confirm, cancel and remarcar only', () => {
    expect(allowedActions('agendada', inicio, at('2026-11-30T10:00:00-03:00'))).toEqual({
      confirmar: true, checkin: false, iniciar: false, concluir: false, faltou: false, cancelar: true, remarcar: true,
    });
  });

  it('when confirmada an hour before, then check-in opens too but not confirm again', () => {
    const a = allowedActions('confirmada', inicio, at('2026-12-01T09:00:00-03:00'));
    expect(a).toMatchObject({ confirmar: false, checkin: true, cancelar: true, remarcar: true, iniciar: false });
  });

  it('when aguardando after the start, then iniciar and concluir; no cancel, no faltou, no remarcar', () => {
    expect(allowedActions('aguardando', inicio, at('2026-12-01T10:05:00-03:00'))).toEqual({
      confirmar: false, checkin: false, iniciar: true, concluir: true, faltou: false, cancelar: false, remarcar: false,
    });
  });

  it('when closed (realizada, cancelada, faltou), then nothing', () => {
    for (const status of ['realizada', 'cancelada', 'faltou'] as const) {
      expect(Object.values(allowedActions(status, inicio, at('2026-12-01T10:05:00-03:00'))).some(Boolean)).toBe(false);
    }
  });
});
