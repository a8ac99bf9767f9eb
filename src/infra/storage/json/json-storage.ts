/**
 * The JSON driver of the storage port: the data directory's files (see {@link FileStore}) with every record in
 * memory and indexes kept current by listening to the store. Reads answer from memory (the promise is already
 * settled); a unit of work runs inside a group commit, under the directory lock, one at a time.
 */
import type { Bloqueio } from '../../../schemas/bloqueio.schema.js';
import type { FeriadoRecord } from '../../../schemas/feriado.schema.js';
import type { ListaEsperaRecord } from '../../../schemas/lista-espera.schema.js';
import type { Medico } from '../../../schemas/medico.schema.js';
import type { Paciente } from '../../../schemas/paciente.schema.js';
import type { SessaoRecord, UsuarioRecord } from '../../../schemas/usuario.schema.js';
import { ALL_COLLECTIONS, COLLECTIONS } from '../../../repositories/collections.js';
import type {
  ChangeFeed, ConsultaRecord, Entity, IdempotencyRecord, ImportOptions, RecordSnapshot, RecordSource, Reads, StagedAuditEntry, StoragePort,
  UnitOfWork, Work, Writes,
} from '../../../repositories/port.js';
import type { Store, Tx } from './store.js';
import { exportStore, importIntoStore } from './store-records.js';
import { BloqueioRepository, FeriadoRepository } from './repositories/bloqueio.repository.js';
import { ConsultaRepository } from './repositories/consulta.repository.js';
import { IdempotencyRepository } from './repositories/idempotency.repository.js';
import { ListaEsperaRepository } from './repositories/lista-espera.repository.js';
import { MedicoRepository } from './repositories/medico.repository.js';
import { PacienteRepository } from './repositories/paciente.repository.js';
import { SessaoRepository, UsuarioRepository } from './repositories/usuario.repository.js';
import { SortedView } from './repositories/index.js';

/** The in-memory repositories of one store: the JSON driver's indexes. */
export class Indexed {
  readonly medicos: MedicoRepository;
  readonly pacientes: PacienteRepository;
  readonly consultas: ConsultaRepository;
  readonly usuarios: UsuarioRepository;
  readonly sessoes: SessaoRepository;
  readonly bloqueios: BloqueioRepository;
  readonly feriados: FeriadoRepository;
  readonly listaEspera: ListaEsperaRepository;
  readonly idempotency: IdempotencyRepository;
  readonly outbox: SortedView<StagedAuditEntry>;

  /** The port's reads, built once: a unit of work reuses them (they see its writes: memory is shared). */
  readonly reads: Reads;

  constructor(readonly store: Store) {
    this.medicos = new MedicoRepository(store);
    this.pacientes = new PacienteRepository(store);
    this.consultas = new ConsultaRepository(store);
    this.usuarios = new UsuarioRepository(store);
    this.sessoes = new SessaoRepository(store);
    this.bloqueios = new BloqueioRepository(store);
    this.feriados = new FeriadoRepository(store);
    this.listaEspera = new ListaEsperaRepository(store);
    this.idempotency = new IdempotencyRepository(store);
    this.outbox = new SortedView<StagedAuditEntry>(store, COLLECTIONS.auditoriaPendente, (a, b) => a.staged - b.staged || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.reads = this.makeReads();
  }

  /** The port's reads over these indexes. */
  private makeReads(): Reads {
    const { medicos, pacientes, consultas, usuarios, sessoes, bloqueios, feriados, listaEspera, idempotency, outbox, store } = this;
    return {
      medicos: {
        get: async (id) => medicos.get(id),
        findByCrm: async (crm) => medicos.findByCrm(crm),
        list: async (filter) => medicos.list(filter),
        all: async () => medicos.all(),
      },
      pacientes: {
        get: async (id) => pacientes.get(id),
        findByCpf: async (cpf) => pacientes.findByCpf(cpf),
        list: async (filter) => pacientes.list(filter),
      },
      consultas: {
        get: async (id) => consultas.get(id),
        subjectsOf: async (medicoId, pacienteId) => ({
          medico: medicos.get(medicoId),
          paciente: pacientes.get(pacienteId),
          bloqueios: bloqueios.ofMedico(medicoId).map((s) => s.bloqueio),
        }),
        forMedicoBetween: async (medicoId, fromMs, toMs) => consultas.forMedicoBetween(medicoId, fromMs, toMs),
        medicoConflict: async (medicoId, fromMs, toMs, exceptId) => consultas.medicoConflict(medicoId, fromMs, toMs, exceptId),
        pacienteConflict: async (pacienteId, fromMs, toMs, exceptId) => consultas.pacienteConflict(pacienteId, fromMs, toMs, exceptId),
        conflictsAt: async (medicoId, pacienteId, fromMs, toMs, exceptId) => ({
          medico: consultas.medicoConflict(medicoId, fromMs, toMs, exceptId),
          paciente: consultas.pacienteConflict(pacienteId, fromMs, toMs, exceptId),
        }),
        encaixesBetween: async (medicoId, fromMs, toMs) => consultas.encaixesBetween(medicoId, fromMs, toMs),
        medicoHasFuturePendente: async (medicoId, nowMs) => consultas.medicoHasFutureAgendada(medicoId, new Date(nowMs)),
        pacienteHasFuturePendente: async (pacienteId, nowMs) => consultas.pacienteHasFutureAgendada(pacienteId, new Date(nowMs)),
        medicoHasAny: async (medicoId) => consultas.medicoHasAny(medicoId),
        ofPaciente: async (pacienteId) => consultas.ofPaciente(pacienteId),
        pacienteSeenBy: async (pacienteId, medicoId) => consultas.pacienteSeenBy(pacienteId, medicoId),
        pacienteIdsOf: async (medicoId) => consultas.pacienteIdsOf(medicoId),
        list: async (filter) => consultas.list(filter),
      },
      usuarios: {
        get: async (id) => usuarios.get(id),
        findByEmail: async (email) => usuarios.findByEmail(email),
        count: async () => usuarios.count(),
        hasOtherActiveAdmin: async (exceptId) => usuarios.hasOtherActiveAdmin(exceptId),
        list: async (limit, offset) => usuarios.list(limit, offset),
      },
      sessoes: {
        get: async (id) => sessoes.get(id),
        ofUser: async (usuarioId) => sessoes.ofUser(usuarioId),
        expired: async (cutoffMs, limit) => sessoes.expired(cutoffMs, limit),
      },
      bloqueios: {
        get: async (id) => bloqueios.get(id),
        ofMedico: async (medicoId) => bloqueios.ofMedico(medicoId).map((s) => s.bloqueio),
      },
      feriados: {
        get: async (id) => feriados.get(id),
        on: async (data) => feriados.on(data),
        ofYear: async (ano) => feriados.ofYear(ano),
      },
      listaEspera: {
        get: async (id) => listaEspera.get(id),
        all: async () => listaEspera.all(),
        ofPaciente: async (pacienteId) => listaEspera.ofPaciente(pacienteId),
      },
      idempotency: {
        get: async (id) => idempotency.get(id),
        olderThan: async (cutoffMs, limit) => idempotency.olderThan(cutoffMs, limit),
      },
      auditOutbox: {
        all: async () => {
          store.refresh();
          return [...outbox.all()];
        },
      },
    };
  }

  /** Reads plus writes through one transaction of the store; `forgetHistory` is the caller's (see `JsonStorage.run`). */
  unitOfWork(tx: Tx, forgetHistory: UnitOfWork['forgetHistory']): UnitOfWork {
    const reads = this.reads;
    const writes = <T extends Entity>(collection: string): Writes<T> => ({
      save: async (record) => tx.put(collection, record),
      remove: async (id) => tx.delete(collection, id),
    });
    return {
      medicos: { ...reads.medicos, ...writes<Medico>(COLLECTIONS.medicos) },
      pacientes: { ...reads.pacientes, ...writes<Paciente>(COLLECTIONS.pacientes) },
      consultas: { ...reads.consultas, ...writes<ConsultaRecord>(COLLECTIONS.consultas) },
      usuarios: { ...reads.usuarios, ...writes<UsuarioRecord>(COLLECTIONS.usuarios) },
      sessoes: { ...reads.sessoes, ...writes<SessaoRecord>(COLLECTIONS.sessoes) },
      bloqueios: { ...reads.bloqueios, ...writes<Bloqueio>(COLLECTIONS.bloqueios) },
      feriados: { ...reads.feriados, ...writes<FeriadoRecord>(COLLECTIONS.feriados) },
      listaEspera: { ...reads.listaEspera, ...writes<ListaEsperaRecord>(COLLECTIONS.listaEspera) },
      idempotency: { ...reads.idempotency, ...writes<IdempotencyRecord>(COLLECTIONS.idempotencia) },
      auditOutbox: { ...reads.auditOutbox, ...writes<StagedAuditEntry>(COLLECTIONS.auditoriaPendente) },
      // Every unit of work of the JSON driver already runs alone (one group commit at a time, under the file lock).
      lock: async () => undefined,
      forgetHistory,
    };
  }
}

export class JsonStorage implements StoragePort {
  readonly driver = 'json' as const;
  /** The booking rules' reads decide: every unit of work runs alone against the latest data. */
  readonly refusesOverlaps = false;
  readonly collections = ALL_COLLECTIONS;
  readonly changes: ChangeFeed;
  readonly medicos: Reads['medicos'];
  readonly pacientes: Reads['pacientes'];
  readonly consultas: Reads['consultas'];
  readonly usuarios: Reads['usuarios'];
  readonly sessoes: Reads['sessoes'];
  readonly bloqueios: Reads['bloqueios'];
  readonly feriados: Reads['feriados'];
  readonly listaEspera: Reads['listaEspera'];
  readonly idempotency: Reads['idempotency'];
  readonly auditOutbox: Reads['auditOutbox'];
  /**
   * The driver's own in-memory repositories, for code not yet moved to the port (being removed: once every
   * service reads through the port, only this driver uses them).
   */
  readonly indexed: Indexed;

  /** `store` is the file store of the data directory (or a memory store in tests); it is opened by `open()`. */
  constructor(readonly store: Store) {
    this.indexed = new Indexed(store);
    const reads = this.indexed.reads;
    this.medicos = reads.medicos;
    this.pacientes = reads.pacientes;
    this.consultas = reads.consultas;
    this.usuarios = reads.usuarios;
    this.sessoes = reads.sessoes;
    this.bloqueios = reads.bloqueios;
    this.feriados = reads.feriados;
    this.listaEspera = reads.listaEspera;
    this.idempotency = reads.idempotency;
    this.auditOutbox = reads.auditOutbox;
    this.changes = {
      onCommit: (listener) => store.onCommit(listener),
      onReset: (listener) => store.subscribe({ change: () => undefined, reset: listener }),
    };
  }

  open(): Promise<void> {
    return this.store.open();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** A unit of work; when it asked to forget history, the journal is folded into the data files before it resolves. */
  async run<R>(work: Work<R>): Promise<R> {
    let forget = false;
    const result = await this.store.transact((tx) =>
      work(
        this.indexed.unitOfWork(tx, async (_collection, ids) => {
          if (ids.length > 0) forget = true;
        }),
      ),
    );
    // A replaced record lives on in the journal until a checkpoint folds it into the data files: do one now.
    if (forget) await this.store.checkpoint();
    return result;
  }

  exportRecords(): Promise<RecordSnapshot> {
    return exportStore(this.store);
  }

  importRecords(source: RecordSource, options?: ImportOptions): Promise<Record<string, number>> {
    return importIntoStore(this.store, source, options);
  }

  async counts(): Promise<Record<string, number>> {
    this.store.refresh();
    return Object.fromEntries(this.collections.map((c) => [c, this.store.count(c)]));
  }

  healthy(): Promise<boolean> {
    return this.store.writable();
  }
}
