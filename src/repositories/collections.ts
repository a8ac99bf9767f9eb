/** The collections of the data directory; each is one `<name>.json` data file. */
export const COLLECTIONS = {
  medicos: 'medicos',
  pacientes: 'pacientes',
  consultas: 'consultas',
  idempotencia: 'idempotencia',
  usuarios: 'usuarios',
  sessoes: 'sessoes',
  /** A médico's time off (`Bloqueio`). */
  bloqueios: 'bloqueios',
  /** The clinic's own holidays and closures (national ones are computed, not stored). */
  feriados: 'feriados',
  /** Pacientes waiting for a slot with a médico or an especialidade. */
  listaEspera: 'lista_espera',
  /** Audit entries of writes, committed with their write, until moved to `auditoria/` (see Auditor). */
  auditoriaPendente: 'auditoria_pendente',
} as const;

export const ALL_COLLECTIONS: readonly string[] = Object.values(COLLECTIONS);

/**
 * Collections whose changes only the process that made them needs to hear: the audit outbox (each process moves
 * its own entries to the trail, and any process finds entries left behind by reading the collection, not the
 * feed). A driver with a feed between processes may keep their changes out of it (see `ChangeFeed.onCommit`).
 */
export const PROCESS_LOCAL_COLLECTIONS: ReadonlySet<string> = new Set([COLLECTIONS.auditoriaPendente]);

/** Fields that hold ids of other records; the store keeps one string per distinct value. */
export const REFERENCE_FIELDS: readonly string[] = ['medicoId', 'pacienteId'];
