import type { Clock } from './core/clock.js';
import { systemClock } from './core/clock.js';
import type { Config } from './core/config.js';
import { LogBuffer, createLogger, type Logger } from './core/logger.js';
import { FileStore } from './infra/storage/json/file-store.js';
import type { Store } from './infra/storage/json/store.js';
import { JsonStorage } from './infra/storage/json/json-storage.js';
import { MemoryLimits } from './infra/storage/json/limits.js';
import type { Limits } from './repositories/limits.js';
import type { StoragePort } from './repositories/port.js';
import { ALL_COLLECTIONS, COLLECTIONS, REFERENCE_FIELDS } from './repositories/collections.js';
import type { Paciente } from './schemas/paciente.schema.js';
import { ScheduleState } from './domain/schedule-state.js';
import { SseBroker } from './infra/sse-broker.js';
import { LOG_STREAM_MAX_CLIENTS, LogStreamFeed } from './infra/log-stream.js';
import { TaskQueue } from './infra/task-queue.js';
import type { TaskBoard } from './infra/task-board.js';
import { AutomaticBackups, type BackupPayload } from './services/automatic-backups.js';
import { AgendaService } from './services/agenda.service.js';
import { BloqueioService } from './services/bloqueio.service.js';
import { FeriadoService } from './services/feriado.service.js';
import { BookingRules } from './domain/booking-rules.js';
import { SubjectsCache } from './domain/subjects-cache.js';
import { BackupService } from './services/backup.service.js';
import { BookingService } from './services/booking.service.js';
import { REPORTS_MAX_PENDING, ReportService, reportKey } from './services/report.service.js';
import type { ReportParams } from './services/report-data.js';
import { presentLog } from './controllers/logs.controller.js';
import { ConsultaService } from './services/consulta.service.js';
import { MedicoService } from './services/medico.service.js';
import { PacienteService, isAnonymised } from './services/paciente.service.js';
import { AuditLog } from './infra/audit/audit-log.js';
import type { AuditTrail } from './repositories/audit-trail.js';
import { Auditor } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { UsuarioService } from './services/usuario.service.js';
import { ListaEsperaService } from './services/lista-espera.service.js';
import { HorariosLivresService } from './services/horarios-livres.service.js';
import { VagaDisponivelNotifier } from './services/vaga-disponivel.js';
import { FreeSlotCache } from './services/free-slots.js';
import { SlotStates } from './domain/slot-states.js';
import { CPU_QUANTUM_MS, TimeSlicer } from './core/time-slice.js';
import path from 'node:path';
import { formatInstant } from './core/time.js';

export interface ContainerOptions {
  clock?: Clock;
  /** Storage other than the one the config names (tests pass a driver of their own). */
  storage?: StoragePort;
  /** The JSON driver over another store than the data directory's files (tests pass a MemoryStore). */
  store?: Store;
  logger?: Logger;
  logBuffer?: LogBuffer;
}

/** Everything the app is made of, built once, in dependency order. */
export interface Container {
  config: Config;
  clock: Clock;
  logger: Logger;
  logBuffer: LogBuffer;
  /** The storage port: every service reads and writes through it (see `repositories/port.ts`). */
  storage: StoragePort;
  /** Counters of the abuse limits (sign-in lockout, writes per minute): in the database with PostgreSQL, shared by its processes. */
  limits: Limits;
  /** The JSON driver's store, for tests and tools that look at its files; undefined with PostgreSQL. */
  store: Store | undefined;
  /** The audit trail: monthly files in the data directory (JSON), or the database's table (PostgreSQL). */
  auditLog: AuditTrail;
  auditor: Auditor;
  schedule: ScheduleState;
  queue: TaskQueue;
  /** The automatic backup's timer; `tick()` asks for the current interval's backup (what the timer does). */
  automaticBackups: AutomaticBackups;
  agendaBroker: SseBroker;
  logsBroker: SseBroker;
  services: {
    backups: BackupService;
    reports: ReportService;
    medicos: MedicoService;
    pacientes: PacienteService;
    consultas: ConsultaService;
    booking: BookingService;
    agenda: AgendaService;
    bloqueios: BloqueioService;
    feriados: FeriadoService;
    auth: AuthService;
    usuarios: UsuarioService;
    listaEspera: ListaEsperaService;
    horariosLivres: HorariosLivresService;
  };
  /** Ends event streams (so HTTP connections can finish). */
  endStreams(): void;
  /** Drains the queue, stops timers, finishes writes and checkpoints storage. */
  close(): Promise<void>;
}

/**
 * The composition root: config → logger → store → repositories → services. Opening the store reads the
 * data directory, so this throws StorageCorruptError when a data file is damaged.
 */
export async function createContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const clock = options.clock ?? systemClock;
  const logBuffer = options.logBuffer ?? new LogBuffer();
  const logger = options.logger ?? (await createLogger({ level: config.logLevel, pretty: config.prettyLogs, buffer: logBuffer }));
  const timezone = config.clinicTz;
  const store =
    options.storage || config.storage === 'postgres'
      ? undefined
      : (options.store ??
        new FileStore({
          dir: config.dataDir,
          collections: ALL_COLLECTIONS,
          logger: logger.child({ module: 'storage' }),
          staleMs: config.lockStaleMs,
          sharedFields: REFERENCE_FIELDS,
        }));
  // Loaded only for a storage on PostgreSQL (see driver.ts).
  const postgres = (options.storage ? options.storage.driver : config.storage) === 'postgres' ? await import('./infra/storage/postgres/driver.js') : undefined;
  const storage: StoragePort =
    options.storage ??
    (store
      ? new JsonStorage(store)
      : new postgres!.PgStorage({ url: config.databaseUrl!, logger: logger.child({ module: 'storage' }), applicationName: `agenda-medica:${process.pid}` }));
  await storage.open();
  const limits = limitsFor(storage, postgres, logger);

  // The audit trail, fed by services through the Auditor: kept where the storage keeps the data (see auditTrailFor).
  const auditLog = auditTrailFor(storage, postgres, config, logger.child({ module: 'auditoria' }));
  await auditLog.open();
  const auditor = new Auditor({ storage, sink: auditLog, clock, timezone, logger: logger.child({ module: 'auditoria' }) });
  // Entries a crash left staged (committed with their write, not yet in the files) are appended now.
  await auditor.recover(true);

  const schedule = new ScheduleState({ changes: storage.changes, consultas: storage.consultas, signals: storage.signals, clock, timezone });
  // Task records: shared by every process of the database with PostgreSQL (see taskBoardFor), in memory with JSON.
  const board = taskBoardFor(storage, postgres, logger.child({ module: 'fila' }));
  await board?.open();
  const queue = new TaskQueue({ clock, timezone, logger: logger.child({ module: 'fila' }), board });
  const agendaBroker = new SseBroker({
    logger, heartbeatMs: config.sseHeartbeatMs, replay: config.sseReplay, maxClients: config.sseMaxClients, maxPerOwner: config.sseMaxPerSession, maxPerUser: config.sseMaxPerUser,
    // Ids from the feed's shared order (PostgreSQL), so Last-Event-ID resumes on any process of the database.
    position: storage.changes.position ? () => storage.changes.position!() : undefined,
  });
  // SSE is transport only: the schedule's domain events become frames here, and nowhere else.
  schedule.subscribe((event) => {
    if (event.type === 'resync') agendaBroker.publish('resync', {});
    else {
      const { type, ...data } = event;
      // `antes` is for domain listeners (the waiting list), not the stream's payload (JSON leaves undefined out).
      // A slot event sets that slot's state, a status event that consulta's (replays send only the latest of each).
      const key = type === 'consulta_status' ? `consulta ${event.consultaId}` : slotStateKey(data.medicoId, data.inicio);
      agendaBroker.publish(type, { ...data, antes: undefined }, data.medicoId, key);
    }
  });

  const logsBroker = new SseBroker({
    logger, heartbeatMs: config.sseHeartbeatMs, replay: 200, maxClients: LOG_STREAM_MAX_CLIENTS, whenBehind: 'skip',
  });
  // Batched and off the request's hot path: see LogStreamFeed.
  const logFeed = new LogStreamFeed({ buffer: logBuffer, broker: logsBroker, present: (entry) => presentLog(entry, timezone) });

  // Time off and holidays: what closes a slot that nobody holds.
  const feriados = new FeriadoService({
    storage, auditor, clock, timezone, logger, nacionais: config.feriadosNacionais, uf: config.clinicUf,
  });
  const bloqueios = new BloqueioService({ storage, feriados, schedule, auditor, clock, timezone, logger });
  // A removed bloqueio frees slots: the stream tells each médico's clients (bounded: see BloqueioService).
  bloqueios.onSlotsFreed((medicoId, slots) => {
    for (const slot of slots) {
      const data = { medicoId, inicio: formatInstant(slot.inicioMs, timezone), fim: formatInstant(slot.fimMs, timezone), estado: 'disponivel' };
      agendaBroker.publish('horario_disponivel', data, medicoId, slotStateKey(medicoId, data.inicio));
    }
  });
  // PostgreSQL: the early checks read médico, paciente and bloqueios from memory the feed keeps current (a
  // statement per booking fewer). The JSON driver reads them from memory anyway, and hears another process's
  // commits only when it reads.
  const subjects = storage.driver === 'postgres' ? new SubjectsCache({ consultas: storage.consultas, changes: storage.changes }) : undefined;
  const rules = new BookingRules({
    storage, clock, timezone, horizonDays: config.agendaHorizonteDias,
    subjects,
    blockedReason: async (reads, medicoId, date) => {
      const blocked = await bloqueios.blocksOn(reads, medicoId, date);
      return (fromMs, toMs) => blocked(fromMs, toMs)?.motivo;
    },
  });
  const booking = new BookingService({ storage, rules, schedule, queue, clock, timezone, logger, auditor });
  const backups = new BackupService({
    storage, backupDir: config.backupDir, keep: config.backupKeep, key: config.backupKey, clock, timezone, auditor, logger: logger.child({ module: 'backup' }),
  });
  if (!config.backupKey) logger.warn('BACKUP_KEY não configurada: os backups são gravados sem criptografia (dados de pacientes em claro)');
  const reports = new ReportService({
    storage, feriados, reportsDir: config.reportsDir, keep: config.reportsKeep, clinicName: config.clinicName, clock, timezone, logger: logger.child({ module: 'relatorio' }),
  });
  // LGPD: each process keeps its own reports, and removes those naming a paciente anonymised by any process — heard
  // through the change feed (the anonymising process also removes them before it answers), checked again whenever
  // the feed may have skipped changes, and at start.
  const reportsLeft = (error: unknown) => logger.error({ err: error }, 'relatórios que citam um paciente anonimizado não foram removidos');
  storage.changes.onCommit((changes) => {
    for (const { collection, id, after } of changes) {
      if (collection === COLLECTIONS.pacientes && after && isAnonymised(after as unknown as Paciente)) reports.forgetPaciente(id).catch(reportsLeft);
    }
  });
  storage.changes.onReset((collection) => {
    if (collection === COLLECTIONS.pacientes) reports.sweepAnonymised().catch(reportsLeft);
  });
  reports.sweepAnonymised().catch(reportsLeft);
  // Backups and reports take their own lanes, one at a time, so they never hold up bookings. A backup asked
  // while one waits is that backup (the contract's "returns the pending task"); a report joins a waiting one
  // for the same period and médico, and at most REPORTS_MAX_PENDING different ones wait. With a board, across
  // every process of the database (and one automatic backup per interval among them: `once`).
  queue.register<BackupPayload, unknown>('backup', (payload, context) => backups.create(payload, context), {
    concurrency: 1, maxPending: 1, key: () => 'backup', once: (payload) => (payload.tick === undefined ? undefined : `automatico:${payload.tick}`),
  });
  queue.register<ReportParams, unknown>('gerar_relatorio', (params, context) => reports.generate(params, context), {
    concurrency: 1, maxPending: REPORTS_MAX_PENDING, key: reportKey,
  });
  const automaticBackups = new AutomaticBackups({ queue, clock, intervalMin: config.backupIntervalMin, logger });
  automaticBackups.start();

  // The waiting list, and the free slots it and GET /horarios-livres read (the agenda's states, bloqueios included).
  const slotStates = new SlotStates({ storage, feriados, schedule, timezone });
  // Long agendas and free-slot searches share one quantum of CPU per turn of the event loop (see TimeSlicer).
  const slicer = new TimeSlicer(CPU_QUANTUM_MS);
  const listaEspera = new ListaEsperaService({ storage, auditor, clock, timezone, logger });
  const vagas = new VagaDisponivelNotifier({
    medicos: storage.medicos, listaEspera, slotStates, clock, timezone, logger, publish: (vaga) => agendaBroker.publish('vaga_disponivel', vaga, vaga.medicoId),
  });
  const freeSlots = new FreeSlotCache({ slotStates, changes: storage.changes, schedule, clock });
  // Slots freed by a cancelled or moved consulta (schedule events), or by a removed bloqueio (its hook).
  schedule.subscribe(vagas.onScheduleEvent);
  bloqueios.onSlotsFreed((medicoId, slots) => void vagas.onSlotsFreed(medicoId, slots));

  const services = {
    backups,
    reports,
    medicos: new MedicoService({ storage, clock, timezone, logger, auditor }),
    pacientes: new PacienteService({
      storage, auditor, clock, timezone, logger,
      auditOf: async (pacienteId) => (await auditLog.query({ pacienteId, limit: 10_000, offset: 0 })).items,
      listaEsperaOf: (pacienteId) => listaEspera.ofPaciente(pacienteId),
      forgetListaEspera: (tx, pacienteId) => listaEspera.forgetPaciente(tx, pacienteId),
      forgetReports: (pacienteId) => reports.forgetPaciente(pacienteId),
    }),
    consultas: new ConsultaService({ storage, clock, timezone, logger, auditor }),
    booking,
    agenda: new AgendaService({
      medicos: storage.medicos, changes: storage.changes, slotStates, schedule, clock, timezone, slicer,
      announce: (medicoId) => agendaBroker.publish('agenda_alterada', medicoId === undefined ? {} : { medicoId }, medicoId),
    }),
    bloqueios,
    feriados,
    auth: new AuthService({ storage, loginFailures: limits.failures, auditor, clock, timezone, logger, sessionTtlMin: config.sessionTtlMin }),
    usuarios: new UsuarioService({ storage, auditor, clock, timezone, logger }),
    listaEspera,
    horariosLivres: new HorariosLivresService({ medicos: storage.medicos, freeOn: (m, d) => freeSlots.freeOn(m, d), clock, timezone, horizonDays: config.agendaHorizonteDias, slicer }),
  };
  const purgeSessions = () =>
    services.auth.purgeExpired().catch((error: unknown) => logger.warn({ err: error }, 'limpeza de sessões falhou'));
  const sessionTimer = setInterval(purgeSessions, 60 * 60 * 1000).unref();

  // Idempotency keys live 48 h: purge now and hourly.
  const purge = () => booking.purgeExpiredKeys().catch((error: unknown) => logger.warn({ err: error }, 'limpeza de chaves falhou'));
  void purge();
  const purgeTimer = setInterval(purge, 60 * 60 * 1000).unref();

  return {
    config,
    clock,
    logger,
    logBuffer,
    store,
    storage,
    limits,
    auditLog,
    auditor,
    schedule,
    queue,
    automaticBackups,
    agendaBroker,
    logsBroker,
    services,
    endStreams: () => {
      agendaBroker.close();
      logsBroker.close();
    },
    close: async () => {
      clearInterval(purgeTimer);
      clearInterval(sessionTimer);
      automaticBackups.stop();
      await queue.close();
      // After the queue's last records, before the storage: the board writes over the storage's pool.
      await board?.close();
      logFeed.stop();
      agendaBroker.close();
      logsBroker.close();
      schedule.stop();
      subjects?.stop();
      await auditor.close();
      await limits.close();
      // Before the storage: with PostgreSQL the trail appends over the storage's pool.
      await auditLog.close();
      await storage.close();
    },
  };
}

/** The PostgreSQL driver's module, loaded when the storage is PostgreSQL. */
type PostgresDriver = typeof import('./infra/storage/postgres/driver.js');

/** The driver and its pool, for a storage on PostgreSQL; refused (`why` says what would go wrong) for any other. */
function postgresPool(storage: StoragePort, postgres: PostgresDriver | undefined, why: string): { driver: PostgresDriver; pool: InstanceType<PostgresDriver['PgStorage']>['pool'] } {
  if (!postgres || !(storage instanceof postgres.PgStorage)) throw new Error(`STORAGE=postgres sem PgStorage: ${why}`);
  return { driver: postgres, pool: storage.pool };
}

/**
 * Where the task queue's records are shared: with PostgreSQL, the database's board over the driver's pool — every
 * process finds every task, and coalesced tasks are decided once for all; with JSON, nowhere (records and
 * coalescing stay in each process, as they always were). A PostgreSQL storage other than the driver itself has no
 * pool: refused, rather than each process keeping its tasks to itself without a word.
 */
function taskBoardFor(storage: StoragePort, postgres: PostgresDriver | undefined, logger: Logger): TaskBoard | undefined {
  if (storage.driver !== 'postgres') return undefined;
  const { driver, pool } = postgresPool(storage, postgres, 'as tarefas não teriam onde ser compartilhadas');
  return new driver.PgTaskBoard({ pool, logger });
}

/**
 * The abuse limits' counters for a storage: in its database with PostgreSQL (every process of the database counts
 * together), in this process's memory with JSON. A PostgreSQL storage other than the driver itself has no pool to
 * count in: refused rather than counted per process without a word.
 */
function limitsFor(storage: StoragePort, postgres: PostgresDriver | undefined, logger: Logger): Limits {
  if (storage.driver !== 'postgres') return new MemoryLimits();
  const { driver, pool } = postgresPool(storage, postgres, 'os limites não teriam onde ser contados');
  return new driver.PgLimits({ pool, logger: logger.child({ module: 'limites' }) });
}

/**
 * The audit trail for a storage: with PostgreSQL, the database's table over the driver's pool — one chain for
 * every process of the database; with JSON, append-only monthly files in `DATA_DIR/auditoria`. A PostgreSQL
 * storage other than the driver itself has no pool: refused, rather than each process keeping part of the trail.
 */
function auditTrailFor(storage: StoragePort, postgres: PostgresDriver | undefined, config: Config, logger: Logger): AuditTrail {
  if (storage.driver !== 'postgres') return new AuditLog({ dir: path.join(config.dataDir, 'auditoria'), logger, lockStaleMs: config.lockStaleMs });
  const { driver, pool } = postgresPool(storage, postgres, 'a trilha de auditoria não teria onde ser gravada');
  return new driver.PgAuditLog({ pool, logger });
}

/** The stream's key for the state of one slot (see `SseEvent.key`): every event that sets it must use this one. */
function slotStateKey(medicoId: string, inicio: string): string {
  return `horario ${medicoId} ${inicio}`;
}
