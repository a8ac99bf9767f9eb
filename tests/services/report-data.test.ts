import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadReportFonts } from '../../src/infra/report-fonts.js';
import { ESPECIALIDADE_MAX, NOME_MAX } from '../../src/schemas/common.js';
import { writeReportPdf } from '../../src/services/report-pdf.js';
import type { Entity } from '../../src/infra/storage/json/store.js';
import { buildReportData, holdsSlot, type ReportParams } from '../../src/services/report-data.js';

const params: ReportParams = {
  de: '2026-12-07', ate: '2026-12-14', clinicName: 'Clínica', timezone: 'America/Sao_Paulo', geradoEm: '2026-12-14T09:00:00-03:00',
};
const MEDICO = {
  id: 'm1', nome: 'Nguye\u0302\u0303n Thi\u0323 A\u0301nh', crm: '1/SP', especialidade: 'Clínica geral', email: null, telefone: null, duracaoConsultaMin: 30, maxEncaixesDia: 2,
  horarios: [{ diaSemana: 1, inicio: '08:00', fim: '10:00' }], ativo: true, criadoEm: 'x', atualizadoEm: 'x',
};
const BLOQUEIO = { id: 'b1', medicoId: 'm1', inicio: '2026-12-07T08:00:00-03:00', fim: '2026-12-07T09:00:00-03:00', motivo: 'Congresso', criadoEm: 'x' };
let n = 0;
const consulta = (inicio: string, status: string, minutes = 30) => ({
  id: `c${n++}`, medicoId: 'm1', pacienteId: 'p1', inicio, fim: new Date(Date.parse(inicio) + minutes * 60_000).toISOString(), status,
});

function collections(consultas: Entity[], bloqueios: Entity[] = []): Map<string, Map<string, Entity>> {
  const byId = (items: Entity[]) => new Map(items.map((e) => [e.id, e]));
  return new Map([
    ['medicos', byId([MEDICO])],
    ['pacientes', byId([{ id: 'p1', nome: 'Paciente' } as Entity])],
    ['consultas', byId(consultas)],
    ['bloqueios', byId(bloqueios)],
  ]);
}

describe('report figures', () => {
  it('when a status is anything but cancelada, then it holds its slot', () => {
    for (const status of ['agendada', 'confirmada', 'aguardando', 'em_atendimento', 'realizada', 'faltou'] as const) expect(holdsSlot(status)).toBe(true);
    expect(holdsSlot('cancelada')).toBe(false);
  });

  it('when a holiday closes a date and a bloqueio covers slots, then those slots are not offered and consultas there are outside', () => {
    // Two Mondays, 4 slots each; 12-14 closed by a holiday, 12-07 08:00–09:00 blocked → 2 slots offered.
    const data = buildReportData(
      collections([consulta('2026-12-07T09:00:00-03:00', 'agendada'), consulta('2026-12-14T08:00:00-03:00', 'realizada'), consulta('2026-12-07T08:00:00-03:00', 'faltou')], [BLOQUEIO]),
      params,
      [{ data: '2026-12-14', nome: 'Feriado municipal' }],
    );
    const [m] = data.medicos;
    expect(m).toMatchObject({ consultas: 3, horarios: 2, ocupados: 1, foraDosHorarios: 2, ocupacao: 50 });
    // 12-07 08:00 (faltou) and 12-14 08:00 have started (generated 12-14 09:00), the 09:00 one too: 1 of 3.
    expect(m!.faltas).toBe(1);
    expect(m!.iniciadas).toBe(3);
    expect(m!.taxaFaltas).toBeCloseTo(100 / 3, 6);
    // Names print composed (NFC), whatever form they were typed in.
    expect(m!.nome).toBe('Nguyễn Thị Ánh');
  });

  it('when more consultas than slots hold them, then occupancy stops at 100% and cancelled ones hold nothing', () => {
    const consultas = [0, 20, 40, 60, 80, 100].map((min) =>
      consulta(new Date(Date.parse('2026-12-07T08:00:00-03:00') + min * 60_000).toISOString(), 'agendada', 20),
    );
    // Six 20-minute consultas over the four 30-minute slots of one morning (booked before the duration changed).
    const data = buildReportData(collections([...consultas, consulta('2026-12-07T08:00:00-03:00', 'cancelada')]), { ...params, ate: '2026-12-07' });
    expect(data.medicos[0]).toMatchObject({ consultas: 7, horarios: 4, ocupados: 4, foraDosHorarios: 0, ocupacao: 100, iniciadas: 6, faltas: 0, taxaFaltas: 0 });
  });

  it('when a restored record holds a name far longer than the API takes, then the report prints it cut to NOME_MAX with "…", and the PDF is written', async () => {
    const longo = 'A'.repeat(100_000);
    const medico = { ...MEDICO, nome: `Dr. ${longo}`, especialidade: 'E'.repeat(200_000) };
    const emoji = '😀'.repeat(NOME_MAX + 1); // surrogate pairs: counted and cut whole
    const exact = '😀'.repeat(NOME_MAX);
    const data = buildReportData(
      new Map<string, Map<string, Entity>>([
        ['medicos', new Map([['m1', medico as Entity]])],
        ['pacientes', new Map([['p1', { id: 'p1', nome: longo } as Entity], ['p2', { id: 'p2', nome: emoji } as Entity], ['p3', { id: 'p3', nome: exact } as Entity]])],
        [
          'consultas',
          new Map(
            [
              consulta('2026-12-07T08:00:00-03:00', 'agendada'),
              { ...consulta('2026-12-07T08:30:00-03:00', 'agendada'), pacienteId: 'p2' },
              { ...consulta('2026-12-07T09:00:00-03:00', 'agendada'), pacienteId: 'p3' },
            ].map((c) => [c.id, c as Entity]),
          ),
        ],
        ['bloqueios', new Map()],
      ]),
      params,
      [{ data: '2026-12-14', nome: `Feriado ${longo}` }],
    );
    const texts = [data.medicos[0]!.nome, data.fechados[0]!.nome, ...data.rows.slice(0, 2).flatMap((r) => [r.medico, r.paciente])];
    for (const text of texts) {
      expect(Array.from(text)).toHaveLength(NOME_MAX);
      expect(text.endsWith('…')).toBe(true);
    }
    expect(Array.from(data.medicos[0]!.especialidade)).toHaveLength(ESPECIALIDADE_MAX);
    // A name of exactly NOME_MAX emoji (twice as many UTF-16 units) is not cut.
    expect(data.rows[2]!.paciente).toBe(exact);
    expect(/\p{Surrogate}/u.test(data.rows[1]!.paciente)).toBe(false);
    // The PDF of it is written: with the full names its line breaking never finished.
    const chunks: Buffer[] = [];
    const out = new Writable({ write: (chunk: Buffer, _enc, cb) => (chunks.push(chunk), cb()) });
    const pages = await writeReportPdf(data, loadReportFonts(), out, () => undefined);
    expect(pages).toBeGreaterThan(0);
    expect(Buffer.concat(chunks).subarray(0, 5).toString()).toBe('%PDF-');
  }, 30_000);
});

