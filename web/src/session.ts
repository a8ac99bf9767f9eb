/**
 * Who is signed in. `undefined` while the first `GET /auth/sessao` is on its way (nothing is drawn yet),
 * `null` when nobody is (the sign-in screen), the user otherwise.
 */
import { signal } from '@preact/signals';
import type { Papel } from '../../src/core/context.js';
import type { SessaoUsuario } from '../../src/schemas/usuario.schema.js';
import { api, ApiError, setUnauthorizedHandler } from './api.js';

export type { Papel, SessaoUsuario };

export const currentUser = signal<SessaoUsuario | null | undefined>(undefined);

/** pt-BR names of the roles, as the header shows them. */
export const PAPEL_NOMES: Record<Papel, string> = { admin: 'Administração', recepcao: 'Recepção', medico: 'Médico' };

setUnauthorizedHandler(() => {
  currentUser.value = null;
});

export async function loadSession(): Promise<void> {
  try {
    const sessao = await api.get<{ usuario: SessaoUsuario }>('/auth/sessao');
    currentUser.value = sessao.usuario;
  } catch (error) {
    if (error instanceof ApiError && error.problem.status === 401) currentUser.value = null;
    else throw error;
  }
}

export async function signIn(email: string, senha: string): Promise<void> {
  const result = await api.post<{ usuario: SessaoUsuario }>('/auth/login', { email, senha });
  currentUser.value = result.usuario;
}

export async function signOut(): Promise<void> {
  try {
    await api.post('/auth/logout');
  } finally {
    currentUser.value = null;
  }
}

/** True when the signed-in user has one of `roles`. */
export function hasRole(roles: readonly Papel[]): boolean {
  const user = currentUser.value;
  return user != null && roles.includes(user.papel);
}
