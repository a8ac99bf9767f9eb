import { currentActor, type Actor, type Papel } from './context.js';
import { AppError } from './errors.js';

/**
 * Permissions are data (style habit 18): each route names one of these, and {@link POLICY} says which roles
 * hold it and how far. Nothing else in the code compares roles.
 */
export const PERMISSIONS = [
  'sessao',
  'medicos:ler',
  'medicos:escrever',
  'bloqueios',
  'lista-espera',
  'pacientes:ler',
  'pacientes:escrever',
  'pacientes:lgpd',
  'agenda:ler',
  'consultas:ler',
  'consultas:escrever',
  'consultas:status',
  'tarefas:ler',
  'relatorios',
  'sistema',
  'usuarios',
  'auditoria',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** `todos`: every record; `proprio`: only what belongs to the user's own médico. */
export type Scope = 'todos' | 'proprio';

const everything = Object.fromEntries(PERMISSIONS.map((p) => [p, 'todos'])) as Record<Permission, Scope>;

/** The contract's role table ("Access control (v2)"), one row per role. */
export const POLICY: Readonly<Record<Papel, Readonly<Partial<Record<Permission, Scope>>>>> = {
  admin: everything,
  recepcao: {
    sessao: 'todos',
    'medicos:ler': 'todos',
    'medicos:escrever': 'todos',
    bloqueios: 'todos',
    'lista-espera': 'todos',
    'pacientes:ler': 'todos',
    'pacientes:escrever': 'todos',
    'agenda:ler': 'todos',
    'consultas:ler': 'todos',
    'consultas:escrever': 'todos',
    'consultas:status': 'todos',
    'tarefas:ler': 'todos',
  },
  medico: {
    sessao: 'todos',
    'medicos:ler': 'todos',
    bloqueios: 'proprio',
    'lista-espera': 'proprio',
    'pacientes:ler': 'proprio',
    'agenda:ler': 'proprio',
    'consultas:ler': 'proprio',
    'consultas:escrever': 'proprio',
    'consultas:status': 'proprio',
    'tarefas:ler': 'proprio',
  },
};

/** How far `papel` holds `permission`, or undefined when it does not. */
export function scopeOf(papel: Papel, permission: Permission): Scope | undefined {
  return POLICY[papel][permission];
}

/**
 * When the acting user holds `permission` only for their own médico, that médico's id; otherwise undefined
 * (no restriction: an admin, a receptionist, or work outside a request). Services call this to narrow reads
 * and refuse writes about other médicos; the policy table alone decides who is narrowed.
 */
export function ownMedicoOnly(permission: Permission): string | undefined {
  const actor = currentActor();
  if (!actor || scopeOf(actor.papel, permission) !== 'proprio') return undefined;
  // A user narrowed to "own" with no médico owns nothing: an id no record has.
  return actor.medicoId ?? '-';
}

/**
 * Whether `actor` may read a task: backups need `sistema` and reports `relatorios` (the permissions of the routes that
 * make and serve them); bookings need `tarefas:ler`, and a user narrowed to their own médico reads only the tasks about
 * that médico (`medicoId`, set by the booking lanes).
 */
export function mayReadTask(actor: Actor | undefined, task: { tipo: string; medicoId?: string | undefined }): boolean {
  if (!actor) return false;
  if (task.tipo === 'backup') return scopeOf(actor.papel, 'sistema') !== undefined;
  if (task.tipo === 'gerar_relatorio') return scopeOf(actor.papel, 'relatorios') !== undefined;
  const scope = scopeOf(actor.papel, 'tarefas:ler');
  return scope === 'todos' || (scope === 'proprio' && task.medicoId !== undefined && task.medicoId === actor.medicoId);
}

/** Refuses (403) when the acting user is narrowed to their own médico and `medicoId` is another. */
export function assertOwnMedico(permission: Permission, medicoId: string): void {
  const own = ownMedicoOnly(permission);
  if (own !== undefined && own !== medicoId) {
    throw new AppError('ACESSO_NEGADO', 'Seu usuário só tem acesso à agenda do próprio médico.');
  }
}
