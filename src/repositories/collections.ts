/** The collections of the data directory; each is one `<name>.json` data file. */
export const COLLECTIONS = {
  medicos: 'medicos',
  pacientes: 'pacientes',
  consultas: 'consultas',
  idempotencia: 'idempotencia',
} as const;

export const ALL_COLLECTIONS: readonly string[] = Object.values(COLLECTIONS);

/** Fields that hold ids of other records; the store keeps one string per distinct value. */
export const REFERENCE_FIELDS: readonly string[] = ['medicoId', 'pacienteId'];
