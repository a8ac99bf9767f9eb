import { randomUUID } from 'node:crypto';
import type { Bloqueio } from '../../src/schemas/bloqueio.schema.js';
import type { Consulta, StatusConsulta } from '../../src/schemas/consulta.schema.js';
import type { FeriadoRecord } from '../../src/schemas/feriado.schema.js';
import type { ListaEsperaRecord } from '../../src/schemas/lista-espera.schema.js';
import type { Medico } from '../../src/schemas/medico.schema.js';
import type { Paciente } from '../../src/schemas/paciente.schema.js';
import type { SessaoRecord, UsuarioRecord } from '../../src/schemas/usuario.schema.js';
import type { IdempotencyRecord, StagedAuditEntry } from '../../src/repositories/port.js';
import { NO_PASSWORD_HASH } from '../helpers/hashes.js';

/** Records of every collection, shaped as the services write them, for the port's contract tests. */

const CRIADO = '2027-01-04T08:00:00-03:00';
let serial = 0;
const next = (): number => ++serial;

/** An instant of a wall-clock time in the clinic's zone (-03:00) on `day` (YYYY-MM-DD). */
export const at = (day: string, hhmm: string): string => `${day}T${hhmm}:00-03:00`;
export const ms = (instant: string): number => Date.parse(instant);

export function medico(over: Partial<Medico> = {}): Medico {
  const n = next();
  return {
    id: randomUUID(),
    nome: `Médico ${n}`,
    crm: `${100000 + n}SP`,
    especialidade: 'Cardiologia',
    email: null,
    telefone: null,
    duracaoConsultaMin: 30,
    maxEncaixesDia: 2,
    horarios: [{ diaSemana: 3, inicio: '08:00', fim: '12:00' }],
    ativo: true,
    criadoEm: CRIADO,
    atualizadoEm: CRIADO,
    ...over,
  };
}

export function paciente(over: Partial<Paciente> = {}): Paciente {
  const n = next();
  return {
    id: randomUUID(),
    nome: `Paciente ${n}`,
    cpf: String(10_000_000_000 + n),
    dataNascimento: '1980-05-17',
    email: null,
    telefone: null,
    criadoEm: CRIADO,
    atualizadoEm: CRIADO,
    ...over,
  };
}

export function consulta(medicoId: string, pacienteId: string, inicio: string, fim: string, status: StatusConsulta = 'agendada', over: Partial<Consulta> = {}): Consulta {
  return {
    id: randomUUID(),
    medicoId,
    pacienteId,
    inicio,
    fim,
    status,
    observacoes: null,
    motivoCancelamento: status === 'cancelada' ? 'paciente desistiu' : null,
    chegouEm: null,
    encaixe: false,
    criadaEm: CRIADO,
    atualizadaEm: CRIADO,
    ...over,
  };
}

export function usuario(over: Partial<UsuarioRecord> = {}): UsuarioRecord {
  const n = next();
  return {
    id: randomUUID(),
    nome: `Usuária ${n}`,
    email: `usuaria${n}@clinica.local`,
    papel: 'recepcao',
    medicoId: null,
    ativo: true,
    criadoEm: CRIADO,
    atualizadoEm: CRIADO,
    senhaHash: NO_PASSWORD_HASH,
    ...over,
  };
}

export function sessao(usuarioId: string, usadaEm: number): SessaoRecord {
  const hex = randomUUID().replaceAll('-', '');
  return { id: (hex + hex).slice(0, 64), usuarioId, criadaEm: CRIADO, usadaEm };
}

export function bloqueio(medicoId: string, inicio: string, fim: string): Bloqueio {
  return { id: randomUUID(), medicoId, inicio, fim, motivo: 'congresso', criadoEm: CRIADO };
}

export function feriado(data: string, nome = 'Aniversário da clínica'): FeriadoRecord {
  return { id: randomUUID(), data, nome, criadoEm: CRIADO };
}

export function listaEspera(pacienteId: string, criadaEm: string, over: Partial<ListaEsperaRecord> = {}): ListaEsperaRecord {
  return {
    id: randomUUID(),
    pacienteId,
    medicoId: null,
    especialidade: 'Cardiologia',
    de: '2027-03-01',
    ate: '2027-03-31',
    observacoes: null,
    criadaEm,
    ...over,
  } as ListaEsperaRecord;
}

export function idempotency(criadoEm: number, status = 201): IdempotencyRecord {
  return { id: randomUUID().replaceAll('-', ''), fingerprint: 'f'.repeat(64), status, body: { ok: true, lista: [1, 'dois'] }, location: '/consultas/x', criadoEm };
}

export function staged(staged: number): StagedAuditEntry {
  return {
    id: randomUUID(),
    em: CRIADO,
    usuarioId: null,
    papel: null,
    acao: 'consulta.agendar',
    recurso: 'consultas',
    status: 201,
    ip: '127.0.0.1',
    requestId: randomUUID(),
    origem: 'processo-1',
    staged,
  };
}

/** Sorts like the JSON driver's name order: pt-BR collation, then id. */
export const byNameThenId = <T extends { nome: string; id: string }>(a: T, b: T): number => a.nome.localeCompare(b.nome, 'pt-BR') || a.id.localeCompare(b.id);

/** Sorts consultas by start, then id. */
export const byInicioThenId = (a: Consulta, b: Consulta): number => ms(a.inicio) - ms(b.inicio) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
