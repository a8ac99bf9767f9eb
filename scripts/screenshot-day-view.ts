/**
 * `npm run screenshot`: the README's picture of the day view, `docs/day-view.png` (1280×800), with every state a
 * receptionist meets in one morning: passado, ocupado with the pacientes' names (agendada, confirmada, aguardando,
 * em atendimento, realizada, faltou), reservado, bloqueado with its motivo, disponível, an encaixe, and a
 * waiting-list entry lit up by a vaga that a cancellation just freed.
 *
 * The server runs in this process, over a temporary data directory, with a clock the script moves: the
 * consultas are booked "yesterday", checked in and started "this morning", and the picture is taken at 10:10 of
 * a fixed day whatever the real time is (on the real clock, a run at night would show a day of future slots and
 * no passado, and every run would differ). The browser keeps its real clock (Playwright's fake clock stalls the
 * app's deferred renders: the pacientes' names never appeared) and is taken to the day through `Data`.
 * Needs the built app (`npm run build:web`) and Chromium at /usr/bin/chromium.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { createApp } from '../src/app.js';
import { createContainer } from '../src/composition.js';
import { ManualClock } from '../src/core/clock.js';
import { ensureDirectories, loadConfig } from '../src/core/config.js';
import { createHttpServer } from '../src/http/http-server.js';
import { cpf, launchBrowser, signIn, WEB_INDEX } from '../tests/helpers/browser.js';
import { ROOT } from '../tests/helpers/spawn.js';

const CLINIC_TZ = 'America/Sao_Paulo';
/** The day pictured: a Tuesday, not a holiday. */
const DIA = '2026-12-01';
const AGORA = '10:10';
const OUTPUT = path.join(ROOT, 'docs/day-view.png');
const ADMIN = { email: 'admin@clinica.local', senha: 'senha-do-admin-123' };
const RECEPCAO = { nome: 'Rita Moreira', email: 'recepcao@clinica.local', senha: 'senha-da-recepcao-1' };
const MANHA = [1, 2, 3, 4, 5].map((diaSemana) => ({ diaSemana, inicio: '08:00', fim: '12:00' }));

/** An instant of the pictured day (or another) at `hora`, as the API writes it. */
const at = (hora: string, dia = DIA): string => DateTime.fromISO(`${dia}T${hora}`, { zone: CLINIC_TZ }).toISO({ suppressMilliseconds: true })!;

if (!existsSync(WEB_INDEX)) {
  process.stderr.write('O app não está construído: rode `npm run build:web` antes.\n');
  process.exit(1);
}

const dir = mkdtempSync(path.join(tmpdir(), 'agenda-screenshot-'));
const clock = new ManualClock(new Date(at('12:00', DateTime.fromISO(DIA).minus({ days: 1 }).toISODate()!)));
const config = loadConfig(
  {
    DATA_DIR: path.join(dir, 'data'), BACKUP_DIR: path.join(dir, 'backups'), REPORTS_DIR: path.join(dir, 'reports'),
    HOST: '127.0.0.1', PORT: '0', SEED: 'false', LOG_LEVEL: 'warn', BACKUP_INTERVAL_MIN: '0', CLINIC_TZ,
    CLINIC_NAME: 'Clínica Exemplo', ADMIN_EMAIL: ADMIN.email, ADMIN_SENHA: ADMIN.senha,
  },
  ROOT,
);
ensureDirectories(config);
const container = await createContainer(config, { clock });
await container.services.usuarios.ensureFirstAdmin(config.adminEmail, config.adminSenha);
const server = createHttpServer(createApp(container)).listen(0, '127.0.0.1');
await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

let token = '';
/** The admin's API calls (what the clinic's staff did before the picture); any failure stops the script. */
async function api<T = { id: string }>(method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route} → ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
/** Signs the admin in (again after the clock jumps a day: sessions end after a night of inactivity). */
async function signInAdmin(): Promise<void> {
  token = (await api<{ token: string }>('POST', '/auth/login', ADMIN)).token;
}

// The date input draws the date in the browser's UI language: Debian's Chromium without `chromium-l10n` shows
// 12/01/2026 for 1 December (the app's own dates are pt-BR).
const browser = await launchBrowser();
try {
  await signInAdmin();
  await api('POST', '/usuarios', { ...RECEPCAO, papel: 'recepcao' });
  const medico = (nome: string, crm: string, especialidade: string) =>
    api('POST', '/medicos', { nome, crm, especialidade, duracaoConsultaMin: 30, horarios: MANHA, maxEncaixesDia: 2 });
  const ana = await medico('Dra. Ana Souza', '123456/SP', 'Cardiologia');
  const carlos = await medico('Dr. Carlos Mendes', '234567/SP', 'Pediatria');
  const helena = await medico('Dra. Helena Rocha', '345678/SP', 'Dermatologia');
  const nomes = [
    'João Lima', 'Maria Oliveira', 'Pedro Santos', 'Carla Dias', 'Lucas Ferreira', 'Beatriz Costa', 'Rafael Almeida',
    'Sofia Ribeiro', 'Gabriel Martins', 'Laura Carvalho', 'Miguel Araújo', 'Julia Gomes', 'Davi Barbosa',
  ];
  const pacientes: Record<string, string> = {};
  for (const [i, nome] of nomes.entries()) {
    pacientes[nome] = (await api('POST', '/pacientes', { nome, cpf: cpf(i + 1), dataNascimento: `${1950 + i * 4}-0${(i % 9) + 1}-15` })).id;
  }
  const agendar = async (medicoId: string, nome: string, hora: string, extra: Record<string, unknown> = {}) =>
    (await api('POST', '/consultas/agendar', { medicoId, pacienteId: pacientes[nome], inicio: at(hora), ...extra })).id;
  const status = (id: string, novo: string) => api('PATCH', `/consultas/${id}`, { status: novo });

  // Yesterday: the morning is booked, some confirmed by phone, one médica blocks the end of her morning.
  const c = {
    realizada: await agendar(ana.id, 'João Lima', '08:00'),
    faltou: await agendar(ana.id, 'Maria Oliveira', '08:30'),
    atendimento: await agendar(ana.id, 'Pedro Santos', '09:30'),
    aguardando: await agendar(ana.id, 'Carla Dias', '10:30'),
    confirmada: await agendar(ana.id, 'Lucas Ferreira', '11:00'),
    encaixe: await agendar(ana.id, 'Rafael Almeida', '10:45', { encaixe: true, duracaoMin: 15 }),
    carlosRealizada: await agendar(carlos.id, 'Sofia Ribeiro', '08:30'),
    carlosAtendimento: await agendar(carlos.id, 'Gabriel Martins', '10:00'),
    carlosAguardando: await agendar(carlos.id, 'Laura Carvalho', '10:30'),
    carlosCancelada: await agendar(carlos.id, 'Miguel Araújo', '11:30'),
    helenaRealizada: await agendar(helena.id, 'Julia Gomes', '09:00'),
    helenaAgendada: await agendar(helena.id, 'Beatriz Costa', '10:30'),
  };
  await agendar(carlos.id, 'Davi Barbosa', '09:00');
  for (const id of [c.confirmada, c.aguardando, c.carlosAguardando]) await status(id, 'confirmada');
  await api('POST', `/medicos/${helena.id}/bloqueios`, { inicio: at('11:00'), fim: at('12:00'), motivo: 'Reunião clínica' });
  await api('POST', '/lista-espera', { pacienteId: pacientes['Beatriz Costa'], especialidade: 'Pediatria', de: DIA, ate: DIA, observacoes: 'Prefere manhã' });

  // This morning: arrivals are checked in, consultas start and end as the clock moves to 10:10.
  clock.set(new Date(at('08:40')));
  await signInAdmin();
  await status(c.realizada, 'em_atendimento');
  await status(c.realizada, 'realizada');
  await status(c.carlosRealizada, 'realizada');
  await status(c.faltou, 'faltou');
  clock.set(new Date(at('09:35')));
  await status(c.helenaRealizada, 'realizada');
  await status(c.atendimento, 'em_atendimento');
  for (const id of [c.aguardando, c.carlosAguardando, c.carlosAtendimento]) await api('POST', `/consultas/${id}/checkin`);
  clock.set(new Date(at(AGORA)));
  await status(c.carlosAtendimento, 'em_atendimento');

  // A booking in flight is `reservado` for the milliseconds its task takes: the picture holds one open through
  // the same reservation the booking service makes first (it expires on the script's clock, which stands still).
  const slot = (hora: string) => ({ inicioMs: Date.parse(at(hora)), fimMs: Date.parse(at(hora)) + 30 * 60_000 });
  container.schedule.reserve(carlos.id, slot('11:00'));

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: CLINIC_TZ, locale: 'pt-BR' });
  const page = await context.newPage();
  await page.goto(url);
  await signIn(page, RECEPCAO);
  await page.getByRole('status').filter({ hasText: 'Ao vivo' }).waitFor({ timeout: 15_000 });
  const data = page.getByLabel('Data', { exact: true });
  if ((await data.inputValue()) !== DIA) await data.fill(DIA);
  await data.blur(); // no focus ring or selected day in the picture
  await page.locator(`button[data-inicio="${at('08:00')}"]`).first().waitFor();
  // The names come after the grid (one request per paciente): wait for one in a slot and one in an encaixe.
  await page.locator('button.slot').filter({ hasText: 'Beatriz Costa' }).waitFor();
  await page.locator('[data-encaixe-id]').filter({ hasText: 'Rafael Almeida' }).waitFor();

  // Live, while the receptionist watches: a paciente cancels, the freed vaga lights up the waiting list.
  await api('POST', `/consultas/${c.carlosCancelada}/cancelar`, { motivo: 'Paciente pediu para cancelar' });
  await page.locator('[data-lista-espera-id][data-destaque="true"]').waitFor({ timeout: 10_000 });
  await page.locator(`button[data-medico-id="${carlos.id}"][data-inicio="${at('11:30')}"][data-estado="disponivel"]`).waitFor();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: OUTPUT });
  process.stdout.write(`${path.relative(ROOT, OUTPUT)} salvo (1280×800)\n`);
} finally {
  await browser.close();
  container.endStreams();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await container.close();
  rmSync(dir, { recursive: true, force: true });
}
