import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { medicoBody, pacienteBody } from '../helpers/app.js';
import { createDatabase, skipWithoutPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { CPFS } from '../helpers/scheduling.js';
import { authedFetch, startServer, tokenFor, type RunningServer } from '../helpers/server.js';
import { openStream } from '../helpers/sse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Three server processes on one PostgreSQL database: what only real processes show. The database decides every
 * race (exclusion constraints, the encaixe lock), the change feed carries each commit to every process, and a
 * process or the database itself may die under load without losing an acknowledged booking.
 */

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  authedFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** A Monday `weeks` to `weeks + 1` weeks ahead of the real clock (the servers run on it), inside the booking horizon. */
function mondayAhead(weeks = 4): string {
  const d = new Date(Date.now() + weeks * 7 * 86_400_000);
  d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7));
  return d.toISOString().slice(0, 10);
}

/** `HH:MM` of the clinic's Monday as an offset timestamp (São Paulo has no DST since 2019). */
const at = (monday: string, minutes: number): string =>
  `${monday}T${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00-03:00`;

/** Valid CPFs beyond the helper's six: the check digits of a 9-digit base. */
function cpf(base: number): string {
  const digits = String(base).padStart(9, '0').split('').map(Number);
  for (const length of [9, 10]) {
    const sum = digits.slice(0, length).reduce((acc, d, i) => acc + d * (length + 1 - i), 0);
    const rest = (sum * 10) % 11;
    digits.push(rest === 10 ? 0 : rest);
  }
  return digits.join('');
}

async function created(res: Response): Promise<{ id: string }> {
  if (res.status !== 201) throw new Error(`esperado 201, veio ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string };
}

/** One answered (or failed) booking request of a load run. */
interface Outcome {
  server: number;
  status: number | 'network';
  /** ms since the run started, when the answer came. */
  at: number;
  consultaId?: string;
  problem?: { type?: string; detail?: string; contentType: string | null };
}

/**
 * Books random slots of the given médicos on the given Mondays, from `concurrency` loops spread over the servers,
 * until `stop()` is called. Records every outcome; a server that is gone shows as `network`.
 */
function bookingLoad(servers: RunningServer[], medicos: string[], pacientes: string[], mondays: string[], concurrency: number) {
  const outcomes: Outcome[] = [];
  const started = Date.now();
  let running = true;
  let n = 0;
  const loop = async (k: number): Promise<void> => {
    while (running) {
      const i = n++;
      const server = (k + i) % servers.length;
      const minutes = [8 * 60, 14 * 60][i % 2]! + 30 * Math.floor(Math.random() * 8);
      const body = {
        medicoId: medicos[Math.floor(Math.random() * medicos.length)],
        pacienteId: pacientes[Math.floor(Math.random() * pacientes.length)],
        inicio: at(mondays[Math.floor(Math.random() * mondays.length)]!, minutes),
      };
      try {
        const res = await post(`${servers[server]!.url}/consultas/agendar`, body);
        const outcome: Outcome = { server, status: res.status, at: Date.now() - started };
        const json = (await res.json().catch(() => undefined)) as { id?: string; type?: string; detail?: string } | undefined;
        if (res.status === 201) outcome.consultaId = json!.id!;
        else outcome.problem = { type: json?.type, detail: json?.detail, contentType: res.headers.get('content-type') };
        outcomes.push(outcome);
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        outcomes.push({ server, status: 'network', at: Date.now() - started, problem: { type: cause?.code, detail: cause?.message ?? String(error), contentType: null } });
        // A dead server refuses at once: do not spin on it.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, (_, k) => loop(k));
  return {
    outcomes,
    elapsed: () => Date.now() - started,
    async stop(): Promise<Outcome[]> {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

const waitUntil = async (predicate: () => boolean, timeoutMs: number, what: string, explain = () => ''): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${explain()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** What each server answered, before and after `mark`, and how each ended: the message of a failed load test. */
function diagnose(servers: RunningServer[], outcomes: readonly Outcome[], mark: number): string {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `servidor ${o.server} ${o.at > mark ? 'depois' : 'antes'}: ${o.status} ${o.problem?.type ?? ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  const ends = servers.map((s, k) => `servidor ${k}: saída ${s.child.exitCode ?? s.child.signalCode ?? 'nenhuma'}; stderr: ${stderrOf.get(s)?.slice(-2_000) ?? ''}`);
  return `${JSON.stringify(counts)}\n${ends.join('\n')}`;
}

/** What each server printed on stderr after it was ready (a crash's stack). */
const stderrOf = new WeakMap<RunningServer, string>();
const captureStderr = (server: RunningServer): RunningServer => {
  stderrOf.set(server, '');
  server.child.stderr!.on('data', (chunk: Buffer) => stderrOf.set(server, stderrOf.get(server)! + chunk.toString()));
  return server;
};

describe.skipIf(skipWithoutPostgres())('three server processes on one PostgreSQL database', () => {
  let cluster: PostgresCluster;
  let databases = 0;
  const running: RunningServer[] = [];

  beforeAll(async () => {
    // Three pools of ten, three LISTEN connections, and the test's own client: well under the default 200.
    cluster = await startPostgres();
  }, 120_000);

  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map((s) => s.stop('SIGKILL')));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** A fresh database and three servers on it, each with its own port (and data folder, for audit files and backups). */
  async function trio(env: Record<string, string> = {}): Promise<{ url: string; servers: RunningServer[] }> {
    const url = await createDatabase(cluster.url, `processos_${++databases}`);
    const common = { STORAGE: 'postgres', DATABASE_URL: url, FERIADOS_NACIONAIS: 'false', ...env };
    // The first one runs the migrations alone; the other two then find the schema in place.
    const first = captureStderr(await startServer({ ...common, DATA_DIR: tempDir() }));
    running.push(first);
    const rest = await Promise.all([0, 1].map(async () => captureStderr(await startServer({ ...common, DATA_DIR: tempDir() }))));
    running.push(...rest);
    // Signed in on each before any load: a test's load then measures bookings, not a first sign-in that a database
    // restart could catch (the restart test once failed so, its third server not yet signed in when it came).
    await Promise.all([first, ...rest].map((server) => tokenFor(server.url)));
    return { url, servers: [first, ...rest] };
  }

  async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Pairs of slot-holding consultas of one médico that overlap: the constraint says none, the test checks. */
  const doubleBooked = (url: string) =>
    query<{ a: string; b: string }>(
      url,
      `SELECT x.id AS a, y.id AS b FROM consultas x JOIN consultas y
         ON x.medico_id = y.medico_id AND x.id < y.id AND tstzrange(x.inicio, x.fim) && tstzrange(y.inicio, y.fim)
       WHERE x.status <> 'cancelada' AND NOT x.encaixe AND y.status <> 'cancelada' AND NOT y.encaixe`,
    );

  async function registerPacientes(server: RunningServer, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await created(await post(`${server.url}/pacientes`, pacienteBody({ nome: `Paciente ${i}`, cpf: i < CPFS.length ? CPFS[i] : cpf(100_000_000 + i) })))).id);
    }
    return ids;
  }

  it('when 300 requests for one slot are spread over the three, then one 201, 299 × 409 and one row', async () => {
    const { url, servers } = await trio();
    const monday = mondayAhead();
    const medico = await created(await post(`${servers[0]!.url}/medicos`, medicoBody()));
    const pacientes = await registerPacientes(servers[1]!, 30);
    const inicio = at(monday, 10 * 60);
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        post(`${servers[i % 3]!.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[i % pacientes.length], inicio }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(299);
    const rows = await query<{ id: string }>(url, 'SELECT id FROM consultas WHERE medico_id = $1', [medico.id]);
    expect(rows).toHaveLength(1);
    const winner = (await results[statuses.indexOf(201)]!.json()) as { id: string };
    expect(rows[0]!.id).toBe(winner.id);
    // Every process then sees it as occupied (the agenda cache of each was told by the feed).
    for (const server of servers) {
      const agenda = (await (await authedFetch(`${server.url}/medicos/${medico.id}/agenda?data=${monday}`)).json()) as { slots: { inicio: string; estado: string }[] };
      expect(agenda.slots.find((s) => s.inicio === inicio)!.estado).toBe('ocupado');
    }
  }, 120_000);

  it('when one paciente books overlapping slots of different médicos on the three at once, then exactly one 201', async () => {
    const { url, servers } = await trio();
    const monday = mondayAhead();
    const medicos: string[] = [];
    for (let i = 0; i < 6; i++) {
      // 30- and 45-minute slots: the 10:00–10:30 of some overlaps the 09:45–10:30 of others, not only equal times.
      const body = medicoBody({ nome: `Médico ${i}`, crm: `${7000 + i}/SP`, duracaoConsultaMin: i % 2 ? 45 : 30, horarios: [{ diaSemana: 1, inicio: i % 2 ? '09:45' : '10:00', fim: '12:00' }] });
      medicos.push((await created(await post(`${servers[i % 3]!.url}/medicos`, body))).id);
    }
    const [paciente] = await registerPacientes(servers[2]!, 1);
    const requests = Array.from({ length: 60 }, (_, i) => {
      const medicoId = medicos[i % medicos.length]!;
      return post(`${servers[i % 3]!.url}/consultas/agendar`, { medicoId, pacienteId: paciente, inicio: at(monday, i % 2 ? 9 * 60 + 45 : 10 * 60) });
    });
    const statuses = (await Promise.all(requests)).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    // The losers are told why: the paciente's conflict, or the slot already taken by this same race.
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const rows = await query<{ n: string }>(url, "SELECT count(*) AS n FROM consultas WHERE paciente_id = $1 AND status <> 'cancelada'", [paciente]);
    expect(Number(rows[0]!.n)).toBe(1);
  }, 120_000);

  it('when encaixes race for one médico and day across the three, then maxEncaixesDia book and no more', async () => {
    const { url, servers } = await trio();
    const monday = mondayAhead();
    const MAX = 3;
    const medico = await created(await post(`${servers[0]!.url}/medicos`, medicoBody({ maxEncaixesDia: MAX })));
    const pacientes = await registerPacientes(servers[1]!, 6);
    // 24 starts × 6 pacientes, none overlapping another of the same paciente: only the daily limit can refuse them.
    const starts = Array.from({ length: 24 }, (_, i) => at(monday, (i < 12 ? 8 * 60 : 14 * 60) + (i % 12) * 20));
    const bodies = starts.flatMap((inicio) => pacientes.map((pacienteId) => ({ medicoId: medico.id, pacienteId, inicio, encaixe: true })));
    const statuses = (await Promise.all(bodies.map((body, i) => post(`${servers[i % 3]!.url}/consultas/agendar`, body)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX);
    expect(statuses.filter((s) => s === 422)).toHaveLength(bodies.length - MAX);
    for (const server of servers) {
      const more = await post(`${server.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[0], inicio: at(monday, 17 * 60 + 45), encaixe: true });
      expect(more.status).toBe(422);
    }
    const rows = await query<{ n: string }>(url, "SELECT count(*) AS n FROM consultas WHERE medico_id = $1 AND encaixe AND status <> 'cancelada'", [medico.id]);
    expect(Number(rows[0]!.n)).toBe(MAX);
  }, 120_000);

  it('when A books, then a client of B hears horario_reservado then horario_ocupado, as A\'s clients do; a client resumes on another process with Last-Event-ID', async () => {
    const { servers } = await trio();
    const [a, b, c] = servers as [RunningServer, RunningServer, RunningServer];
    const monday = mondayAhead();
    const medico = await created(await post(`${a.url}/medicos`, medicoBody()));
    const pacientes = await registerPacientes(b, 4);
    const stream = async (server: RunningServer, headers: Record<string, string> = {}) =>
      openStream(`${server.url}/sistema/agenda/stream?medicoId=${medico.id}`, { authorization: `Bearer ${await tokenFor(server.url)}`, ...headers });
    type Slot = { inicio: string; estado: string; consultaId?: string };
    const slotEvents = (s: Awaited<ReturnType<typeof stream>>, inicio?: string) =>
      s.messages
        .filter((m) => m.event.startsWith('horario_') && (inicio === undefined || (JSON.parse(m.data) as Slot).inicio === inicio))
        .map((m) => ({ event: m.event, id: m.id!, ...(JSON.parse(m.data) as Slot) }));

    const onA = await stream(a);
    const onB = await stream(b);
    const first = at(monday, 8 * 60);
    const booked = await created(await post(`${a.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[0], inicio: first }));
    await onA.until(() => slotEvents(onA, first).some((e) => e.event === 'horario_ocupado'));
    await onB.until(() => slotEvents(onB, first).some((e) => e.event === 'horario_ocupado'), 3_000);
    // The process that reserves tells its own clients at once, then the commit; ids increase.
    expect(slotEvents(onA, first).map((e) => e.event)).toEqual(['horario_reservado', 'horario_ocupado']);
    const idsA = slotEvents(onA, first).map((e) => Number(e.id));
    expect(idsA[1]).toBeGreaterThan(idsA[0]!);
    // B hears the reservation as a signal sent before the booking's unit of work began, then the commit through
    // the feed: the same states in the same order, never a state out of order.
    expect(slotEvents(onB, first).map((e) => [e.event, e.consultaId])).toEqual([
      ['horario_reservado', undefined],
      ['horario_ocupado', booked.id],
    ]);
    const idsB = slotEvents(onB, first).map((e) => Number(e.id));
    expect(idsB[1]).toBeGreaterThan(idsB[0]!);

    // A's client goes away having heard the booking; meanwhile C books two slots and cancels the first booking.
    const lastSeenOnA = onA.messages.at(-1)!.id!;
    onA.close();
    const second = at(monday, 9 * 60);
    const third = at(monday, 9 * 60 + 30);
    const c2 = await created(await post(`${c.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[1], inicio: second }));
    const c3 = await created(await post(`${c.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[2], inicio: third }));
    expect((await post(`${c.url}/consultas/${booked.id}/cancelar`, { motivo: 'paciente viajou' })).status).toBe(200);
    await onB.until(() => slotEvents(onB, first).some((e) => e.event === 'horario_disponivel'), 3_000);

    // It reconnects to B (another process) with A's id: B replays what it missed, in order, and no resync.
    const resumed = await stream(b, { 'Last-Event-ID': lastSeenOnA });
    await resumed.until(() => slotEvents(resumed, first).some((e) => e.event === 'horario_disponivel'), 3_000);
    expect(resumed.messages.some((m) => m.event === 'resync')).toBe(false);
    // Reservations are live state kept nowhere: a replay on another process may or may not carry them (they are
    // numbered by the process that heard them); the commits it must carry, in order.
    const missed = slotEvents(resumed).filter((e) => e.event !== 'horario_reservado' && (e.inicio !== first || e.event !== 'horario_ocupado'));
    expect(missed.map((e) => [e.event, e.inicio, e.consultaId])).toEqual([
      ['horario_ocupado', second, c2.id],
      ['horario_ocupado', third, c3.id],
      ['horario_disponivel', first, undefined],
    ]);
    // Then it hears live events on B, numbered after what it was replayed.
    const fourth = at(monday, 10 * 60);
    const c4 = await created(await post(`${a.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[3], inicio: fourth }));
    await resumed.until(() => slotEvents(resumed, fourth).some((e) => e.event === 'horario_ocupado'), 3_000);
    const ids = resumed.messages.map((m) => Number(m.id));
    expect(ids.at(-1)).toBeGreaterThan(Math.max(...ids.slice(0, -1)));
    resumed.close();

    // And a client of B resumes on C the same way, from B's last id.
    const lastSeenOnB = onB.messages.at(-1)!.id!;
    onB.close();
    const fifth = at(monday, 10 * 60 + 30);
    const c5 = await created(await post(`${b.url}/consultas/agendar`, { medicoId: medico.id, pacienteId: pacientes[0], inicio: fifth }));
    const onC = await stream(c, { 'Last-Event-ID': lastSeenOnB });
    await onC.until(() => slotEvents(onC, fifth).some((e) => e.event === 'horario_ocupado'), 3_000);
    expect(onC.messages.some((m) => m.event === 'resync')).toBe(false);
    // C cannot tell which of its own local events (reservations) the client heard through B: it sends the latest state
    // of each slot they touched, so the client may hear states it already had, and ends with every slot as it is.
    const latest = new Map<string, [string, string | undefined]>();
    for (const e of slotEvents(onC)) latest.set(e.inicio, [e.event, e.consultaId]);
    const truth = new Map<string, [string, string | undefined]>([
      [first, ['horario_disponivel', undefined]],
      [second, ['horario_ocupado', c2.id]],
      [third, ['horario_ocupado', c3.id]],
      [fourth, ['horario_ocupado', c4.id]],
      [fifth, ['horario_ocupado', c5.id]],
    ]);
    expect(latest.get(fifth)).toEqual(truth.get(fifth));
    for (const [inicio, state] of latest) expect(state, inicio).toEqual(truth.get(inicio));
    onC.close();

    // An id beyond anything the database has numbered (another database's, or made up) cannot be resumed: resync.
    const stranger = await stream(c, { 'Last-Event-ID': '9000000000000000' });
    await stranger.until(() => stranger.messages.some((m) => m.event === 'resync'));
    stranger.close();
  }, 120_000);

  /** Three médicos and 40 pacientes, registered on the first server: the load's cast. */
  async function cast(server: RunningServer): Promise<{ medicos: string[]; pacientes: string[] }> {
    const medicos: string[] = [];
    for (let i = 0; i < 3; i++) medicos.push((await created(await post(`${server.url}/medicos`, medicoBody({ nome: `Médico ${i}`, crm: `${8000 + i}/SP` })))).id);
    return { medicos, pacientes: await registerPacientes(server, 40) };
  }

  /** Every acknowledged booking is in the database, and no médico's slot holders overlap. */
  async function expectDurableAndSingle(url: string, outcomes: readonly Outcome[]): Promise<number> {
    const acknowledged = outcomes.filter((o) => o.status === 201).map((o) => o.consultaId!);
    const rows = await query<{ id: string }>(url, 'SELECT id FROM consultas WHERE id = ANY($1)', [acknowledged]);
    expect(rows.map((r) => r.id).sort()).toEqual([...acknowledged].sort());
    expect(await doubleBooked(url)).toEqual([]);
    return acknowledged.length;
  }

  it('when one process is killed (-9) under booking load, then no acknowledged booking is lost, no slot is booked twice, and the others keep serving', async () => {
    const { url, servers } = await trio();
    const { medicos, pacientes } = await cast(servers[0]!);
    const load = bookingLoad(servers, medicos, pacientes, [mondayAhead(4), mondayAhead(5)], 24);
    await waitUntil(() => load.outcomes.filter((o) => o.status === 201 && o.server === 0).length >= 5, 20_000, 'bookings on the victim');
    const killedAt = load.elapsed();
    servers[0]!.child.kill('SIGKILL');
    // Keep going until the survivors have booked more since the kill.
    await waitUntil(() => load.outcomes.filter((o) => o.server !== 0 && o.status === 201 && o.at > killedAt).length >= 10, 30_000, 'bookings after the kill');
    const outcomes = await load.stop();

    // The survivors answered every request with a decision, before and after the kill: nothing failed on them.
    const survivors = outcomes.filter((o) => o.server !== 0);
    expect(survivors.filter((o) => o.status !== 201 && o.status !== 409).map((o) => [o.status, o.problem]), diagnose(servers, outcomes, killedAt)).toEqual([]);
    // The victim's requests after the kill failed as connections (never an answer that claimed anything).
    expect(outcomes.filter((o) => o.server === 0 && o.at > killedAt + 1_000 && o.status !== 'network')).toEqual([]);
    expect(await expectDurableAndSingle(url, outcomes)).toBeGreaterThanOrEqual(15);
  }, 120_000);

  it('when the database restarts under load, then requests get 503 problems in pt-BR, then succeed again without restarting the servers, and no slot is booked twice', async () => {
    const { url, servers } = await trio();
    const { medicos, pacientes } = await cast(servers[0]!);
    const load = bookingLoad(servers, medicos, pacientes, [mondayAhead(4), mondayAhead(5), mondayAhead(6)], 18);
    await waitUntil(() => load.outcomes.filter((o) => o.status === 201).length >= 10, 20_000, 'bookings before the restart');
    await cluster.restart();
    const backAt = load.elapsed();
    // Each server books again on its own (its pool reconnects; nobody restarts it).
    await waitUntil(
      () => [0, 1, 2].every((k) => load.outcomes.some((o) => o.server === k && o.status === 201 && o.at > backAt)),
      30_000,
      'bookings on every server after the restart',
      () => diagnose(servers, load.outcomes, backAt),
    );
    const outcomes = await load.stop();

    const unavailable = outcomes.filter((o) => o.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const o of unavailable) {
      expect(o.problem).toMatchObject({ type: '/problemas/armazenamento-indisponivel', contentType: expect.stringContaining('application/problem+json') });
      expect(o.problem!.detail).toMatch(/banco de dados|armazenamento/i);
    }
    // Nothing else went wrong: a decision (201, 409) or "try again" (503), never a 500 or a dropped connection.
    expect(outcomes.filter((o) => ![201, 409, 503].includes(o.status as number)).map((o) => [o.server, o.status, o.problem]), diagnose(servers, outcomes, backAt)).toEqual([]);
    expect(await expectDurableAndSingle(url, outcomes)).toBeGreaterThanOrEqual(13);

    // The feed flows again too (its LISTEN connection came back by itself): B's cached agenda of a day hears a
    // booking that A makes on it after the restart.
    const later = mondayAhead(8);
    const inicio = at(later, 8 * 60);
    const agendaOnB = async () =>
      ((await (await authedFetch(`${servers[1]!.url}/medicos/${medicos[0]}/agenda?data=${later}`)).json()) as { slots: { inicio: string; estado: string }[] }).slots.find(
        (slot) => slot.inicio === inicio,
      )?.estado;
    expect(await agendaOnB()).toBe('disponivel');
    await created(await post(`${servers[0]!.url}/consultas/agendar`, { medicoId: medicos[0], pacienteId: pacientes[0], inicio }));
    let estado = await agendaOnB();
    const deadline = Date.now() + 3_000;
    while (estado !== 'ocupado' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      estado = await agendaOnB();
    }
    expect(estado).toBe('ocupado');
  }, 180_000);
});
