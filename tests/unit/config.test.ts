import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config.js';

describe('loadConfig', () => {
  it('when nothing is set, then the contract defaults apply and paths are absolute', () => {
    const config = loadConfig({}, '/srv/agenda');
    expect(config).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      dataDir: path.resolve('/srv/agenda', 'data'),
      backupDir: path.resolve('/srv/agenda', 'backups'),
      reportsDir: path.resolve('/srv/agenda', 'reports'),
      clinicTz: 'America/Sao_Paulo',
      logLevel: 'info',
      backupIntervalMin: 60,
      backupKeep: 20,
      sseHeartbeatMs: 15000,
      sseReplay: 1000,
      seed: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('when SSE_MAX_PER_USER is not set, then it is 60, or SSE_MAX_PER_SESSION when that was raised above it; set, it is as given', () => {
    expect(loadConfig({}, '/srv').sseMaxPerUser).toBe(60);
    expect(loadConfig({ SSE_MAX_PER_SESSION: '500' }, '/srv').sseMaxPerUser).toBe(500);
    expect(loadConfig({ SSE_MAX_PER_SESSION: '500', SSE_MAX_PER_USER: '40' }, '/srv').sseMaxPerUser).toBe(40);
    expect(() => loadConfig({ SSE_MAX_PER_USER: '0' }, '/srv')).toThrow(ConfigError);
  });

  it('when values are given, then they are parsed', () => {
    const config = loadConfig({ PORT: '9000', SEED: 'false', BACKUP_INTERVAL_MIN: '0', CLINIC_TZ: 'Europe/Lisbon', DATA_DIR: '/var/x' });
    expect(config).toMatchObject({ port: 9000, seed: false, backupIntervalMin: 0, clinicTz: 'Europe/Lisbon', dataDir: path.resolve('/var/x') });
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', 'abc'],
    ['CLINIC_TZ', 'Mars/Olympus'],
    ['LOG_LEVEL', 'loud'],
    ['SEED', 'maybe'],
    ['BACKUP_KEEP', '0'],
    ['SSE_REPLAY', '-1'],
    ['STORAGE', 'mysql'],
    ['DATABASE_URL', 'mysql://x@y/z'],
  ])('when %s=%s, then it refuses, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it('when STORAGE=postgres, then DATABASE_URL is required and both are passed on', () => {
    expect(loadConfig({})).toMatchObject({ storage: 'json', databaseUrl: undefined });
    expect(() => loadConfig({ STORAGE: 'postgres' })).toThrow('DATABASE_URL');
    const url = 'postgres://agenda:segredo@127.0.0.1:5432/agenda';
    expect(loadConfig({ STORAGE: 'postgres', DATABASE_URL: url })).toMatchObject({ storage: 'postgres', databaseUrl: url });
  });
});
