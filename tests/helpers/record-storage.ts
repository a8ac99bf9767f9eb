import type { Store } from '../../src/infra/storage/json/store.js';
import { exportStore, importIntoStore } from '../../src/infra/storage/json/store-records.js';
import type { BackupStorage } from '../../src/services/backup.service.js';

/**
 * Export and import of records over any store (the JSON driver's, over a memory store with collections of the
 * test's own, such as `notas`): what the backup service needs of storage, and nothing of the clinic's
 * collections, so a test can watch exactly the records it wrote.
 */
export function recordStorage(store: Store): BackupStorage {
  return {
    driver: 'json',
    collections: store.collections,
    exportRecords: () => exportStore(store),
    importRecords: (source, options) => importIntoStore(store, source, options),
  };
}
