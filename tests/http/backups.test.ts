import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { ZipArchive } from 'archiver';
import { dataFileBytes } from '../helpers/files.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { readZip } from '../../src/infra/zip-reader.js';
import { NO_PASSWORD_HASH, makeApp, medicoBody, pacienteBody, signIn } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

type App = Awaited<ReturnType<typeof makeApp>>;

async function backup(t: App): Promise<string> {
  const res = await request(t.app).post('/sistema/tasks/backup');
  expect(res.status).toBe(202);
  expect(res.headers.location).toBe(`/sistema/tasks/${res.body.id}`);
  await t.container.queue.onIdle();
  const task = await request(t.app).get(`/sistema/tasks/${res.body.id}`).expect(200);
  expect(task.body).toMatchObject({ tipo: 'backup', status: 'concluida', progresso: 100 });
  return task.body.resultado.nome as string;
}


/** Writes a ZIP by hand (entries as given), as an attacker or a broken disk would. */
async function writeZip(file: string, entries: Record<string, Buffer | string>): Promise<void> {
  const archive = new ZipArchive({ zlib: { level: 1 } });
  const out = createWriteStream(file);
  archive.pipe(out);
  for (const [name, content] of Object.entries(entries)) archive.append(content, { name });
  await archive.finalize();
  await once(out, 'close');
}

/** `entry`'s lines through `change`, with the manifest's size, checksum and counts made to match again. */
function rewritten(e: Map<string, Buffer>, collection: string, change: (records: Record<string, unknown>[]) => Record<string, unknown>[]) {
  const name = `data/${collection}.jsonl`;
  const records = e.get(name)!.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const changed = change(records);
  const bytes = Buffer.from(changed.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const manifest = JSON.parse(e.get('manifest.json')!.toString());
  const item = manifest.arquivos.find((a: { nome: string }) => a.nome === name);
  item.bytes = bytes.length;
  item.sha256 = createHash('sha256').update(bytes).digest('hex');
  item.registros = changed.length;
  manifest.contagens[collection] = changed.length;
  return { ...Object.fromEntries(e), [name]: bytes, 'manifest.json': JSON.stringify(manifest) };
}

/**
 * An app with a clinic and one booking at 08:00, and beside its backup an edited copy: the backup's entries after
 * `mutate`, written as `backup-20200101-000000.zip` (named to sort before it).
 */
async function editedBackup(mutate: (entries: Map<string, Buffer>) => Record<string, Buffer | string>) {
  const t = await makeApp();
  const { medicoId, pacienteId } = await clinic(t.app);
  await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
  const original = path.join(t.container.config.backupDir, await backup(t));
  const entries = await readZip(original, { maxEntries: 20, maxEntryBytes: 1e8, maxTotalBytes: 1e8, allowed: () => true });
  const name = 'backup-20200101-000000.zip';
  await writeZip(path.join(t.container.config.backupDir, name), mutate(entries));
  return { t, name };
}

describe('backups', () => {
  /** The storage's snapshot, with `records` of every collection failing with `error` after its first record. */
  const failingSnapshots = (t: App, error: () => Error) => {
    const exportRecords = t.container.storage.exportRecords.bind(t.container.storage);
    t.container.storage.exportRecords = async () => {
      const snapshot = await exportRecords();
      return {
        ...snapshot,
        close: () => snapshot.close(),
        records: async function* (collection: string) {
          for await (const record of snapshot.records(collection)) {
            yield record;
            throw error();
          }
        },
      };
    };
  };

  it('when the storage cannot serve while a backup is written, then 503; when the backup code itself fails, then a 500 that stays a fault', async () => {
    const t = await makeApp();
    await request(t.app).post('/medicos').send(medicoBody()).expect(201);
    const { backups } = t.container.services;
    failingSnapshots(t, () => new StorageUnavailableError('O banco de dados está indisponível no momento.'));
    await expect(backups.create({ automatic: false })).rejects.toMatchObject({ status: 503, code: 'ARMAZENAMENTO_INDISPONIVEL', detail: 'Não foi possível gravar o backup.' });
    failingSnapshots(t, () => new TypeError('falha do código'));
    const fault = await backups.create({ automatic: false }).then(() => undefined, (e: unknown) => e);
    expect(fault).toBeInstanceOf(TypeError);
    // Neither left a file behind.
    expect(await backups.list()).toEqual([]);
    expect(readdirSync(t.container.config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('when a backup is taken, then it is listed, downloadable, and holds every collection as JSON lines and a manifest', async () => {
    const t = await makeApp();
    const { medicoId, pacienteId } = await clinic(t.app);
    await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const nome = await backup(t);
    expect(nome).toMatch(/^backup-20261130-120000\.zip$/);
    const list = await request(t.app).get('/sistema/backups').expect(200);
    expect(list.body).toEqual([{ nome, tamanhoBytes: expect.any(Number), criadoEm: expect.any(String), automatico: false, criptografado: false }]);
    const download = await request(t.app).get(`/sistema/backups/${nome}`).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(download.status).toBe(200);
    expect(download.headers['content-type']).toBe('application/zip');
    const file = path.join(t.dataDir, 'copia.zip');
    writeFileSync(file, download.body as Buffer);
    const entries = await readZip(file, { maxEntries: 20, maxEntryBytes: 1e8, maxTotalBytes: 1e8, allowed: () => true });
    // Every collection (médicos, pacientes, consultas, idempotência, usuários, …) as records, one per line: the
    // format of every driver (format 2), no driver files.
    const dataFiles = t.container.storage.collections.map((c) => `data/${c}.jsonl`);
    expect(dataFiles).toEqual(expect.arrayContaining(['data/consultas.jsonl', 'data/idempotencia.jsonl', 'data/medicos.jsonl', 'data/pacientes.jsonl']));
    expect([...entries.keys()].sort()).toEqual([...dataFiles, 'manifest.json'].sort());
    const manifest = JSON.parse(entries.get('manifest.json')!.toString());
    expect(manifest).toMatchObject({ formatVersion: 2, driver: 'json', contagens: { medicos: 1, pacientes: 1, consultas: 1 } });
    expect(manifest.arquivos).toHaveLength(dataFiles.length);
    const lines = entries.get('data/consultas.jsonl')!.toString().split('\n');
    expect(lines.at(-1)).toBe(''); // every record ends its line
    expect(JSON.parse(lines[0]!)).toMatchObject({ medicoId, pacienteId, status: 'agendada' });
    expect(manifest.arquivos.find((a: { nome: string }) => a.nome === 'data/consultas.jsonl')).toMatchObject({
      colecao: 'consultas', registros: 1, bytes: entries.get('data/consultas.jsonl')!.length,
      sha256: createHash('sha256').update(entries.get('data/consultas.jsonl')!).digest('hex'),
    });
  });

  it('when names are not backups, then 404 (no path tricks)', async () => {
    const t = await makeApp();
    for (const nome of ['..%2F..%2Fetc%2Fpasswd', 'backup-20261130-120000.zip', 'medicos.json']) {
      expect((await request(t.app).get(`/sistema/backups/${nome}`)).status).toBe(404);
      expect((await request(t.app).post(`/sistema/backups/${nome}/restaurar`)).status).toBe(404);
    }
  });

  it('when more than BACKUP_KEEP exist, then the oldest are removed', async () => {
    const t = await makeApp({ env: { BACKUP_KEEP: '2' } });
    const names = [];
    for (let i = 0; i < 3; i++) names.push(await backup(t));
    const list = await request(t.app).get('/sistema/backups').expect(200);
    expect(list.body.map((b: { nome: string }) => b.nome)).toEqual([names[2], names[1]]);
  });

  it('when the oldest of BACKUP_KEEP backups is restored, then the safety backup does not prune it away', async () => {
    const t = await makeApp({ env: { BACKUP_KEEP: '2' } });
    const names = [await backup(t), await backup(t)];
    const res = await request(t.app).post(`/sistema/backups/${names[0]}/restaurar`).expect(200);
    const list = (await request(t.app).get('/sistema/backups').expect(200)).body.map((b: { nome: string }) => b.nome);
    expect(list).toEqual([res.body.backupDeSeguranca, names[1], names[0]]);
  });

  it('when restored after changes, then the backed-up records come back exactly, with a safety backup of the changes', async () => {
    const t = await makeApp();
    const { medicoId, pacienteId } = await clinic(t.app);
    const c = await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const before = {
      medicos: (await request(t.app).get('/medicos')).body,
      pacientes: (await request(t.app).get('/pacientes')).body,
      consultas: (await request(t.app).get('/consultas')).body,
    };
    const nome = await backup(t);
    // Change everything after the backup.
    await request(t.app).post(`/consultas/${c.body.id}/cancelar`).send({}).expect(200);
    await request(t.app).post('/pacientes').send(pacienteBody({ cpf: '11144477735', nome: 'Depois do Backup' })).expect(201);
    await request(t.app).post('/medicos').send(medicoBody({ crm: '5555/RJ' })).expect(201);

    const res = await request(t.app).post(`/sistema/backups/${nome}/restaurar`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ restaurado: nome, contagens: { medicos: 1, pacientes: 1, consultas: 1 } });
    expect((await request(t.app).get('/medicos')).body).toEqual(before.medicos);
    expect((await request(t.app).get('/pacientes')).body).toEqual(before.pacientes);
    expect((await request(t.app).get('/consultas')).body).toEqual(before.consultas);
    // The slot is occupied again, as in the backup.
    const agenda = await request(t.app).get(`/medicos/${medicoId}/agenda`).query({ data: '2026-12-07' });
    expect(agenda.body.slots[0].estado).toBe('ocupado');
    // The safety backup holds the changed data.
    const safety = res.body.backupDeSeguranca as string;
    expect((await request(t.app).get('/sistema/backups')).body.map((b: { nome: string }) => b.nome)).toContain(safety);
    const entries = await readZip(path.join(t.container.config.backupDir, safety), { maxEntries: 20, maxEntryBytes: 1e8, maxTotalBytes: 1e8, allowed: () => true });
    expect(JSON.parse(entries.get('manifest.json')!.toString()).contagens).toMatchObject({ medicos: 2, pacientes: 2 });
    // And the restored state survives a restart.
    await t.container.close();
    const again = await makeApp({ env: { DATA_DIR: t.dataDir } });
    expect((await request(again.app).get('/pacientes')).body).toEqual(before.pacientes);
  });

  describe('when the archive is bad, then 422 and the data is byte-for-byte unchanged', () => {
    async function refused(mutate: (entries: Map<string, Buffer>) => Record<string, Buffer | string>) {
      const { t, name: bad } = await editedBackup(mutate);
      // Audit entries of earlier writes leave the outbox collection asynchronously: let them settle first.
      await t.container.auditor.flush();
      const before = dataFileBytes(t.dataDir);
      const backupsBefore = readdirSync(t.container.config.backupDir).sort();
      const res = await request(t.app).post(`/sistema/backups/${bad}/restaurar`);
      expect(res.status).toBe(422);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.type).toBe('/problemas/backup-invalido');
      expect(dataFileBytes(t.dataDir)).toEqual(before);
      expect(readdirSync(t.container.config.backupDir).sort()).toEqual(backupsBefore); // not even a safety backup
      return res.body.detail as string;
    }
    const all = (entries: Map<string, Buffer>) => Object.fromEntries(entries);

    it('a file that is not a ZIP, or a backup cut short: the detail is pt-BR, without the ZIP library English', async () => {
      const t = await makeApp();
      const original = readFileSync(path.join(t.container.config.backupDir, await backup(t)));
      for (const [name, bytes] of [
        ['backup-20200101-000000.zip', Buffer.from('isto não é um arquivo zip')],
        ['backup-20200102-000000.zip', original.subarray(0, Math.floor(original.length / 2))],
      ] as const) {
        writeFileSync(path.join(t.container.config.backupDir, name), bytes);
        const res = await request(t.app).post(`/sistema/backups/${name}/restaurar`);
        expect(res.status).toBe(422);
        expect(res.body.type).toBe('/problemas/backup-invalido');
        // Before: "… End of central directory record signature not found. Either not a zip file, or file is truncated.."
        expect(res.body.detail).toBe('Backup recusado: arquivo ZIP ilegível: não é um ZIP, ou está truncado ou corrompido.');
      }
    });

    it('an entry escaping the archive root (../)', async () => {
      const detail = await refused((e) => ({ ...all(e), '../../evil.json': '{}' }));
      expect(detail).toMatch(/inv[aá]lid|não permitida/);
    });

    it('a checksum that does not match', async () => {
      const detail = await refused((e) => {
        // Change a name, keeping the length.
        const medicos = e.get('data/medicos.jsonl')!.toString().replace('Médico 0', 'Médico X');
        return { ...all(e), 'data/medicos.jsonl': medicos };
      });
      expect(detail).toMatch(/SHA-256/);
    });

    it('a record that fails its schema (with a matching checksum)', async () => {
      const detail = await refused((e) => {
        const bad = JSON.stringify({ id: 'f5d1b7a2-0000-4000-8000-000000000000', nome: 'Sem CPF', cpf: 'abc' });
        const bytes = Buffer.concat([e.get('data/pacientes.jsonl')!, Buffer.from(`${bad}\n`)]);
        const manifest = JSON.parse(e.get('manifest.json')!.toString());
        const item = manifest.arquivos.find((a: { nome: string }) => a.nome === 'data/pacientes.jsonl');
        item.bytes = bytes.length;
        item.sha256 = createHash('sha256').update(bytes).digest('hex');
        item.registros += 1;
        manifest.contagens.pacientes += 1;
        return { ...all(e), 'data/pacientes.jsonl': bytes, 'manifest.json': JSON.stringify(manifest) };
      });
      expect(detail).toMatch(/pacientes fora do esquema/);
    });

    it('text holding a NUL, which the database cannot store (in a name, or deep in a record)', async () => {
      const named = await refused((e) => rewritten(e, 'pacientes', (ps) => ps.map((p, i) => (i === 0 ? { ...p, nome: 'Ana\u0000Maria' } : p))));
      expect(named).toMatch(/registro 0 de pacientes tem um caractere NUL/);
      await refused((e) => rewritten(e, 'medicos', (ms) => ms.map((m) => ({ ...m, especialidade: 'Clínica\u0000geral' }))));
    });

    it('points in time not in ISO 8601 or outside the accepted years (each driver would read them differently, or not at all)', async () => {
      // Each pair lasts 30 minutes, as the schema asks: only the way it is written is wrong.
      for (const [inicio, fim] of [
        ['Mon, 07 Dec 2026 11:00:00 GMT', 'Mon, 07 Dec 2026 11:30:00 GMT'],
        ['+275760-09-12T23:00:00Z', '+275760-09-12T23:30:00Z'],
        ['1850-12-07T08:00:00-03:00', '1850-12-07T08:30:00-03:00'],
        ['2026-12-07 08:00', '2026-12-07 08:30'],
        // A day the calendar lacks (Date.parse reads it as 2 March), and an offset PostgreSQL cannot read.
        ['2026-02-30T09:00:00-03:00', '2026-02-30T09:30:00-03:00'],
        ['2026-12-07T08:00:00+18:00', '2026-12-07T08:30:00+18:00'],
        // Finer than the milliseconds the app compares (PostgreSQL keeps microseconds).
        ['2026-12-07T08:00:00.0004-03:00', '2026-12-07T08:30:00.0004-03:00'],
      ]) {
        const detail = await refused((e) => rewritten(e, 'consultas', (cs) => cs.map((c) => ({ ...c, inicio, fim }))));
        expect(detail, inicio).toMatch(/consultas fora do esquema: inicio não é um instante ISO 8601 \(até milissegundos\) entre 1900 e 2999/);
      }
      const feriado = await refused((e) => rewritten(e, 'feriados', () => [{ id: 'f5d1b7a2-0000-4000-8000-000000000001', data: '10000-01-01', nome: 'X', criadoEm: '2026-11-30T12:00:00-03:00' }]));
      expect(feriado).toMatch(/feriados fora do esquema/);
    });

    it('users none of whom is an active admin: restoring would leave nobody able to administer the clinic', async () => {
      const demoted = await refused((e) => rewritten(e, 'usuarios', (users) => users.map((u) => (u['papel'] === 'admin' ? { ...u, papel: 'recepcao' } : u))));
      expect(demoted).toMatch(/nenhum dos usuários do backup é um administrador ativo/);
      await refused((e) => rewritten(e, 'usuarios', (users) => users.map((u) => ({ ...u, ativo: false }))));
    });

    it('records a sign-in, an agenda or a replay could not use safely: a password hash out of format or of extreme cost, more horarios than the API takes, a replay status that is not final', async () => {
      const [, , , , salt, key] = NO_PASSWORD_HASH.split('$');
      const hash = (n: string, r = '8', p = '1') => ['scrypt', n, r, p, salt, key].join('$');
      // A sign-in with the e-mail of any of these answered 500 (NaN, 3: scrypt throws), or took seconds and a gigabyte (2^20, r 1000).
      for (const senhaHash of [hash('abc'), hash('3'), hash(String(2 ** 20)), hash('32768', '1000'), hash('32768', '8', '64'), hash('32768', '16'), 'scrypt$hash', 'bcrypt$x']) {
        const detail = await refused((e) => rewritten(e, 'usuarios', (users) => users.map((u) => ({ ...u, senhaHash }))));
        expect(detail, senhaHash).toMatch(/usuarios fora do esquema: senhaHash/);
      }
      const horarios = Array.from({ length: 51 }, (_, i) => ({ diaSemana: i % 7, inicio: '08:00', fim: '09:00' }));
      expect(await refused((e) => rewritten(e, 'medicos', (ms) => ms.map((m) => ({ ...m, horarios }))))).toMatch(/medicos fora do esquema: horarios/);
      const replay = (status: number) => ({ id: 'a'.repeat(64), fingerprint: 'b'.repeat(64), status, body: {}, location: null, criadoEm: 0 });
      for (const status of [101, 199]) {
        expect(await refused((e) => rewritten(e, 'idempotencia', () => [replay(status)]))).toMatch(/idempotencia fora do esquema: status/);
      }
    });

    it('records the API and PostgreSQL keep unique, twice: a CPF, a CRM (an empty one too), a user e-mail; and a user e-mail that is empty or not in lower case', async () => {
      const twin = (r: Record<string, unknown>) => ({ ...r, id: '0f5d1b7a-0000-4000-8000-00000000000a' });
      let shared = '';
      const cpf = await refused((e) =>
        rewritten(e, 'pacientes', (ps) => {
          shared = ps[0]!['cpf'] as string;
          return [...ps, twin(ps[0]!)];
        }),
      );
      expect(cpf).toMatch(/de pacientes têm o mesmo CPF/);
      expect(shared).toMatch(/^\d{11}$/);
      expect(cpf).not.toContain(shared); // the refusal names records, not the CPF
      expect(await refused((e) => rewritten(e, 'medicos', (ms) => [...ms, twin(ms[0]!)]))).toMatch(/de medicos têm o mesmo CRM/);
      expect(await refused((e) => rewritten(e, 'medicos', (ms) => [{ ...ms[0]!, crm: '' }, { ...twin(ms[0]!), crm: '' }]))).toMatch(/de medicos têm o mesmo CRM/);
      const email = await refused((e) => rewritten(e, 'usuarios', (us) => [...us, { ...twin(us[0]!), papel: 'recepcao' }]));
      expect(email).toMatch(/de usuarios têm o mesmo e-mail/);
      for (const bad of ['', 'Admin@Clinica.Local', 'sem-arroba']) {
        expect(await refused((e) => rewritten(e, 'usuarios', (us) => us.map((u) => ({ ...u, email: bad }))))).toMatch(/usuarios fora do esquema: email/);
      }
    });

    it('consultas the booking rules and PostgreSQL would never let stand: two holding one slot of a médico, two pendentes of one paciente at once; a birth date that is no date', async () => {
      const copy = (c: Record<string, unknown>, change: Record<string, unknown>) => ({ ...c, id: '0f5d1b7a-0000-4000-8000-00000000001b', ...change });
      const slot = await refused((e) => rewritten(e, 'consultas', (cs) => [...cs, copy(cs[0]!, { pacienteId: 'f5d1b7a2-0000-4000-8000-0000000000ff' })]));
      expect(slot).toMatch(/ocupam o mesmo horário de um médico/);
      const pendente = await refused((e) => rewritten(e, 'consultas', (cs) => [...cs, copy(cs[0]!, { medicoId: 'f5d1b7a2-0000-4000-8000-0000000000fe' })]));
      expect(pendente).toMatch(/pendentes do mesmo paciente/);
      expect(await refused((e) => rewritten(e, 'pacientes', (ps) => ps.map((p) => ({ ...p, dataNascimento: 'not-a-date' }))))).toMatch(/dataNascimento não é uma data/);
    });

    it('records the API would never have stored: a CPF without 11 digits or with wrong check digits, working hours out of format or overlapping, a médico or paciente id that is not a UUID, a bloqueio ending before it starts, a waiting list bounded by no date, a point in time out of range, a holiday without a name', async () => {
      for (const cpf of ['abc', '123', '52998224726', '11111111111', ' 52998224725']) {
        expect(await refused((e) => rewritten(e, 'pacientes', (ps) => ps.map((p) => ({ ...p, cpf })))), cpf).toMatch(/pacientes fora do esquema: cpf/);
      }
      for (const horarios of [
        [{ diaSemana: 1, inicio: '99:99', fim: '12:00' }],
        [{ diaSemana: 1, inicio: '8:00', fim: '12:00' }],
        [{ diaSemana: 7, inicio: '08:00', fim: '12:00' }],
        [{ diaSemana: 1, inicio: '12:00', fim: '08:00' }],
        [{ diaSemana: 1, inicio: '08:00', fim: '12:00' }, { diaSemana: 1, inicio: '11:00', fim: '13:00' }],
      ]) {
        expect(await refused((e) => rewritten(e, 'medicos', (ms) => ms.map((m) => ({ ...m, horarios })))), JSON.stringify(horarios)).toMatch(/medicos fora do esquema: horarios/);
      }
      for (const field of ['medicoId', 'pacienteId']) {
        expect(await refused((e) => rewritten(e, 'consultas', (cs) => cs.map((c) => ({ ...c, [field]: 'medico-1' }))))).toMatch(new RegExp(`consultas fora do esquema: ${field}`));
      }
      const bloqueio = { id: '0f5d1b7a-0000-4000-8000-00000000003a', medicoId: 'x', inicio: '2026-12-07T08:00:00-03:00', fim: '2026-12-07T09:00:00-03:00', motivo: 'Congresso', criadoEm: '2026-11-30T12:00:00-03:00' };
      expect(await refused((e) => rewritten(e, 'bloqueios', () => [bloqueio]))).toMatch(/bloqueios fora do esquema: medicoId/);
      for (const fim of ['2026-12-07T07:00:00-03:00', bloqueio.inicio]) {
        expect(await refused((e) => rewritten(e, 'bloqueios', () => [{ ...bloqueio, medicoId: '0f5d1b7a-0000-4000-8000-00000000003b', fim }]))).toMatch(/bloqueios fora do esquema: fim/);
      }
      const replay = { id: 'a'.repeat(64), fingerprint: 'b'.repeat(64), status: 201, body: {}, location: null, criadoEm: -200_000_000_000_000 };
      expect(await refused((e) => rewritten(e, 'idempotencia', () => [replay]))).toMatch(/idempotencia fora do esquema: criadoEm/);
      const espera = { id: '0f5d1b7a-0000-4000-8000-00000000003c', pacienteId: '0f5d1b7a-0000-4000-8000-00000000003d', medicoId: null, especialidade: 'Cardiologia', observacoes: null, criadaEm: '2026-11-30T12:00:00-03:00' };
      for (const [de, ate] of [['xyz', '2026-12-31'], ['2026-12-01', '2026-99-99']]) {
        expect(await refused((e) => rewritten(e, 'lista_espera', () => [{ ...espera, de, ate }]))).toMatch(/lista_espera fora do esquema: (de|ate) não é uma data ou um instante/);
      }
      const feriado = { id: 'f5d1b7a2-0000-4000-8000-000000000001', data: '2026-12-08', criadoEm: '2026-11-30T12:00:00-03:00' };
      for (const nome of ['', '   ']) {
        expect(await refused((e) => rewritten(e, 'feriados', () => [{ ...feriado, nome }]))).toMatch(/feriados fora do esquema: nome/);
      }
    });

    it('a truncated file', async () => {
      await refused((e) => {
        const consultas = e.get('data/consultas.jsonl')!;
        return { ...all(e), 'data/consultas.jsonl': consultas.subarray(0, consultas.length - 10) };
      });
    });

    it('a missing manifest', async () => {
      const detail = await refused((e) => {
        const rest = all(e);
        delete rest['manifest.json'];
        return rest;
      });
      expect(detail).toMatch(/manifest/);
    });
  });

  it('when consultas only touch, or one of two over a slot is cancelled, an encaixe, or already realizada or faltou (v1 freed those slots), or written before encaixe existed, then the backup restores', async () => {
    const { t, name: edited } = await editedBackup((entries) =>
      rewritten(entries, 'consultas', (cs) => {
        const [c] = cs as [Record<string, unknown>];
        const length = Date.parse(c['fim'] as string) - Date.parse(c['inicio'] as string);
        const after = { ...c, id: '0f5d1b7a-0000-4000-8000-00000000002c', inicio: c['fim'], fim: new Date(Date.parse(c['fim'] as string) + length).toISOString() };
        const v1: Record<string, unknown> = { ...after };
        delete v1['encaixe']; // a record of v1: no encaixe field
        return [
          c,
          v1,
          { ...c, id: '0f5d1b7a-0000-4000-8000-00000000002d', status: 'cancelada' },
          { ...c, id: '0f5d1b7a-0000-4000-8000-00000000002e', status: 'agendada', encaixe: true, pacienteId: 'f5d1b7a2-0000-4000-8000-0000000000fd' },
          { ...c, id: '0f5d1b7a-0000-4000-8000-00000000002f', status: 'faltou', pacienteId: 'f5d1b7a2-0000-4000-8000-0000000000fc' },
        ];
      }),
    );
    const res = await request(t.app).post(`/sistema/backups/${edited}/restaurar`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.contagens.consultas).toBe(5);
  });

  it('when a deleted médico left his bloqueios and his user behind, then the backup still restores (those references may dangle)', async () => {
    const t = await makeApp();
    const { medicoId } = await clinic(t.app);
    await request(t.app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('08:00'), fim: at('12:00'), motivo: 'Congresso' }).expect(201);
    await signIn(t.container, 'medico', medicoId);
    await request(t.app).delete(`/medicos/${medicoId}`).expect(204);
    const nome = await backup(t);
    const res = await request(t.app).post(`/sistema/backups/${nome}/restaurar`).expect(200);
    expect(res.body.contagens).toMatchObject({ medicos: 0, bloqueios: 1 });
  });

  it('when consultas refer to a médico the backup does not hold (data of an older version), then it restores, and the consulta stays readable', async () => {
    const t = await makeApp();
    const { medicoId, pacienteId } = await clinic(t.app);
    const c = await agendar(t.app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const nome = await backup(t);
    const entries = await readZip(path.join(t.container.config.backupDir, nome), { maxEntries: 20, maxEntryBytes: 1e8, maxTotalBytes: 1e8, allowed: () => true });
    await writeZip(path.join(t.container.config.backupDir, 'backup-20200101-000000.zip'), rewritten(entries, 'medicos', () => []));
    await request(t.app).post('/sistema/backups/backup-20200101-000000.zip/restaurar').expect(200);
    expect((await request(t.app).get(`/consultas/${c.body.id}`).expect(200)).body).toMatchObject({ medicoId, pacienteId });
    await request(t.app).get(`/medicos/${medicoId}`).expect(404);
  });

  it('when the ZIP itself is cut short, then 422 and nothing changes', async () => {
    const t = await makeApp();
    await clinic(t.app);
    const nome = await backup(t);
    const bytes = readFileSync(path.join(t.container.config.backupDir, nome));
    writeFileSync(path.join(t.container.config.backupDir, 'backup-20200101-000000.zip'), bytes.subarray(0, bytes.length - 40));
    // Audit entries of earlier writes leave the outbox collection asynchronously: let them settle first.
    await t.container.auditor.flush();
    const before = dataFileBytes(t.dataDir);
    const res = await request(t.app).post('/sistema/backups/backup-20200101-000000.zip/restaurar');
    expect(res.status).toBe(422);
    expect(dataFileBytes(t.dataDir)).toEqual(before);
  });

  it('when a backup is taken while 200 bookings are written, then it holds a consistent set', async () => {
    const t = await makeApp();
    const medicos: string[] = [];
    for (let i = 0; i < 4; i++) medicos.push((await request(t.app).post('/medicos').send(medicoBody({ crm: `${3000 + i}/SP`, horarios: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ diaSemana: d, inicio: '06:00', fim: '22:00' })) }))).body.id);
    const pacientes: string[] = [];
    const cpfs = ['52998224725', '11144477735', '39053344705', '15350946056', '86288366757'];
    for (const cpf of cpfs) pacientes.push((await request(t.app).post('/pacientes').send(pacienteBody({ cpf }))).body.id);
    const bookings = Array.from({ length: 200 }, (_, i) => {
      const day = 7 + Math.floor(i / 40);
      const minutes = 6 * 60 + (i % 40) * 30;
      const inicio = `2026-12-${String(day).padStart(2, '0')}T${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00-03:00`;
      return agendar(t.app, { medicoId: medicos[i % 4], pacienteId: pacientes[i % 5], inicio });
    });
    const tasks = [0, 1, 2].map(() => request(t.app).post('/sistema/tasks/backup'));
    const [results] = await Promise.all([Promise.all(bookings), Promise.all(tasks)]);
    expect(results.filter((r) => r.status === 201).length).toBeGreaterThan(100);
    await t.container.queue.onIdle();
    for (const b of (await request(t.app).get('/sistema/backups')).body as { nome: string }[]) {
      const records = await t.container.services.backups.validate(path.join(t.container.config.backupDir, b.nome));
      const medicoIds = new Set(records.get('medicos')!.map((m) => m.id));
      const pacienteIds = new Set(records.get('pacientes')!.map((p) => p.id));
      const consultas = records.get('consultas') as unknown as { medicoId: string; pacienteId: string; inicio: string; status: string }[];
      for (const c of consultas) {
        expect(medicoIds.has(c.medicoId)).toBe(true);
        expect(pacienteIds.has(c.pacienteId)).toBe(true);
      }
      const slots = consultas.filter((c) => c.status === 'agendada').map((c) => `${c.medicoId}|${c.inicio}`);
      expect(new Set(slots).size).toBe(slots.length);
    }
  }, 30_000);

  it('when a backup is restored, then agenda stream clients are told to resync', async () => {
    const t = await makeApp();
    await clinic(t.app);
    const nome = await backup(t);
    const server = await listen(t.app);
    const stream = await openStream(`${server.url}/sistema/agenda/stream`);
    await stream.until(() => stream.retry !== undefined);
    await request(t.app).post(`/sistema/backups/${nome}/restaurar`).expect(200);
    await stream.until(() => stream.messages.some((m) => m.event === 'resync'));
    stream.close();
    await server.close();
  });

  it('when BACKUP_INTERVAL_MIN passes, then an automatic backup is taken and marked -auto', async () => {
    const t = await makeApp({ env: { BACKUP_INTERVAL_MIN: '0.005' } }); // 300 ms
    await clinic(t.app);
    await expect
      .poll(async () => (await request(t.app).get('/sistema/backups')).body.some((b: { automatico: boolean }) => b.automatico), { timeout: 5000 })
      .toBe(true);
    const auto = (await request(t.app).get('/sistema/backups')).body.find((b: { automatico: boolean }) => b.automatico);
    expect(auto.nome).toMatch(/^backup-\d{8}-\d{6}-auto\.zip$/);
  });
});
