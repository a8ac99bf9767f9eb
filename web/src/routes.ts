/**
 * The pages of the app. The nav shows, in this order, the pages the signed-in role may use; the admin pages
 * are added by their own modules as entries here. A route lists roles rather than permissions because the
 * server's permission table lives beside node-only code; the roles here mirror `POLICY` in
 * `src/core/permissions.ts` (the server still refuses what a role may not do).
 */
import type { ComponentType } from 'preact';
import type { Papel } from './session.js';
import { AgendaPage } from './pages/agenda-page.js';
import { HorariosLivresPage } from './pages/horarios-livres-page.js';
import { ADMIN_ROLES } from './pages/admin/admin-logic.js';
import { AuditoriaPage } from './pages/admin/auditoria-page.js';
import { BackupsPage } from './pages/admin/backups-page.js';
import { LogsPage } from './pages/admin/logs-page.js';
import { RelatoriosPage } from './pages/admin/relatorios-page.js';
import { UsuariosPage } from './pages/admin/usuarios-page.js';

export interface PageRoute {
  /** Hash path, e.g. `/agenda` for `#/agenda`. */
  path: string;
  /** Nav link text and page heading (pt-BR). */
  title: string;
  roles: readonly Papel[];
  component: ComponentType;
}

export const ALL_ROLES: readonly Papel[] = ['admin', 'recepcao', 'medico'];

export const routes: PageRoute[] = [
  { path: '/agenda', title: 'Agenda', roles: ALL_ROLES, component: AgendaPage },
  { path: '/horarios-livres', title: 'Horários livres', roles: ALL_ROLES, component: HorariosLivresPage },
  { path: '/usuarios', title: 'Usuários', roles: ADMIN_ROLES, component: UsuariosPage },
  { path: '/backups', title: 'Backups', roles: ADMIN_ROLES, component: BackupsPage },
  { path: '/relatorios', title: 'Relatórios', roles: ADMIN_ROLES, component: RelatoriosPage },
  { path: '/logs', title: 'Logs', roles: ADMIN_ROLES, component: LogsPage },
  { path: '/auditoria', title: 'Auditoria', roles: ADMIN_ROLES, component: AuditoriaPage },
];
