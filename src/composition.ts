import type { Clock } from './core/clock.js';
import { systemClock } from './core/clock.js';
import type { Config } from './core/config.js';
import { LogBuffer, createLogger, type Logger } from './core/logger.js';
import { FileStore } from './infra/storage/file-store.js';
import type { Store } from './infra/storage/store.js';
import { ALL_COLLECTIONS, REFERENCE_FIELDS } from './repositories/collections.js';
import { ConsultaRepository } from './repositories/consulta.repository.js';
import { MedicoRepository } from './repositories/medico.repository.js';
import { PacienteRepository } from './repositories/paciente.repository.js';
import { ScheduleState } from './infra/schedule-state.js';
import { SseBroker } from './infra/sse-broker.js';
import { TaskQueue } from './infra/task-queue.js';
import { IdempotencyRepository } from './repositories/idempotency.repository.js';
import { AgendaService } from './services/agenda.service.js';
import { BookingRules } from './services/booking-rules.js';
import { BackupService } from './services/backup.service.js';
import { BookingService } from './services/booking.service.js';
import { ReportService } from './services/report.service.js';
import type { ReportParams } from './services/report-data.js';
import { presentLog } from './controllers/logs.controller.js';
import { ConsultaService } from './services/consulta.service.js';
import { MedicoService } from './services/medico.service.js';
import { PacienteService } from './services/paciente.service.js';

export interface ContainerOptions {
  clock?: Clock;
  /** Storage other than the data directory (tests pass a MemoryStore). */
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
  store: Store;
  repositories: { medicos: MedicoRepository; pacientes: PacienteRepository; consultas: ConsultaRepository };
  schedule: ScheduleState;
  queue: TaskQueue;
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
  const store =
    options.store ??
    new FileStore({
      dir: config.dataDir,
      collections: ALL_COLLECTIONS,
      logger: logger.child({ module: 'storage' }),
      staleMs: config.lockStaleMs,
      sharedFields: REFERENCE_FIELDS,
    });
  await store.open();

  const medicos = new MedicoRepository(store);
  const pacientes = new PacienteRepository(store);
  const consultas = new ConsultaRepository(store);
  const idempotency = new IdempotencyRepository(store);
  const timezone = config.clinicTz;

  const schedule = new ScheduleState({ store, consultas, clock, timezone });
  const queue = new TaskQueue({ clock, timezone, logger: logger.child({ module: 'fila' }) });
  const agendaBroker = new SseBroker({ logger, heartbeatMs: config.sseHeartbeatMs, replay: config.sseReplay });
  // SSE is transport only: the schedule's domain events become frames here, and nowhere else.
  schedule.subscribe((event) => {
    if (event.type === 'resync') agendaBroker.publish('resync', {});
    else {
      const { type, ...data } = event;
      agendaBroker.publish(type, data, data.medicoId);
    }
  });

  const logsBroker = new SseBroker({ logger, heartbeatMs: config.sseHeartbeatMs, replay: 200 });
  const stopLogStream = logBuffer.subscribe((entry) => logsBroker.publish('log', presentLog(entry, timezone)));

  const rules = new BookingRules({ medicos, pacientes, consultas, clock, timezone });
  const booking = new BookingService({ store, consultas, idempotency, rules, schedule, queue, clock, timezone, logger });
  const backups = new BackupService({
    store, backupDir: config.backupDir, keep: config.backupKeep, clock, timezone, logger: logger.child({ module: 'backup' }),
  });
  const reports = new ReportService({
    store, medicos, reportsDir: config.reportsDir, clinicName: config.clinicName, clock, timezone, logger: logger.child({ module: 'relatorio' }),
  });
  // Backups and reports take their own lanes, one at a time, so they never hold up bookings.
  queue.register<{ automatic: boolean }, unknown>('backup', (payload, context) => backups.create(payload, context), { concurrency: 1 });
  queue.register<ReportParams, unknown>('gerar_relatorio', (params, context) => reports.generate(params, context), { concurrency: 1 });
  const backupTimer =
    config.backupIntervalMin > 0
      ? setInterval(() => {
          try {
            queue.add('backup', { automatic: true });
          } catch (error) {
            logger.warn({ err: error }, 'backup automático não enfileirado');
          }
        }, config.backupIntervalMin * 60_000).unref()
      : undefined;

  const services = {
    backups,
    reports,
    medicos: new MedicoService({ store, medicos, consultas, clock, timezone, logger }),
    pacientes: new PacienteService({ store, pacientes, consultas, clock, timezone, logger }),
    consultas: new ConsultaService({ store, consultas, clock, timezone, logger }),
    booking,
    agenda: new AgendaService({ store, medicos, consultas, schedule, timezone }),
  };

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
    repositories: { medicos, pacientes, consultas },
    schedule,
    queue,
    agendaBroker,
    logsBroker,
    services,
    endStreams: () => {
      agendaBroker.close();
      logsBroker.close();
    },
    close: async () => {
      clearInterval(purgeTimer);
      clearInterval(backupTimer);
      await queue.close();
      stopLogStream();
      agendaBroker.close();
      logsBroker.close();
      schedule.stop();
      await store.close();
    },
  };
}
