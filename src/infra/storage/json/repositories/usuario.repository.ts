import type { Store, Tx } from '../store.js';
import type { SessaoRecord, UsuarioRecord } from '../../../../schemas/usuario.schema.js';
import { COLLECTIONS } from '../../../../repositories/collections.js';
import { Index, SortedView, paginate, type Page } from './index.js';

const U = COLLECTIONS.usuarios;
const S = COLLECTIONS.sessoes;

/** Users, with an e-mail index for sign-in and the uniqueness rule. */
export class UsuarioRepository {
  private readonly byEmail: Index<UsuarioRecord>;
  private readonly byName: SortedView<UsuarioRecord>;

  constructor(private readonly store: Store) {
    this.byEmail = new Index<UsuarioRecord>(store, U, (u) => [u.email]);
    this.byName = new SortedView<UsuarioRecord>(store, U, (a, b) => a.nome.localeCompare(b.nome, 'pt-BR') || a.id.localeCompare(b.id));
  }

  get(id: string): UsuarioRecord | undefined {
    this.store.refresh();
    return this.store.get<UsuarioRecord>(U, id);
  }

  findByEmail(email: string): UsuarioRecord | undefined {
    this.store.refresh();
    return this.byEmail.get(email)[0];
  }

  count(): number {
    this.store.refresh();
    return this.store.count(U);
  }

  /** True when some active admin other than `exceptId` exists (the last admin must stay). */
  hasOtherActiveAdmin(exceptId: string): boolean {
    for (const u of this.store.values<UsuarioRecord>(U)) {
      if (u.id !== exceptId && u.papel === 'admin' && u.ativo) return true;
    }
    return false;
  }

  list(limit: number, offset: number): Page<UsuarioRecord> {
    this.store.refresh();
    return paginate(this.byName.all(), () => true, limit, offset);
  }

  save(tx: Tx, usuario: UsuarioRecord): void {
    tx.put(U, usuario);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(U, id);
  }
}

/** Sessions, keyed by the hash of their token, with an index by user for "end my other sessions". */
export class SessaoRepository {
  private readonly byUser: Index<SessaoRecord>;

  constructor(private readonly store: Store) {
    this.byUser = new Index<SessaoRecord>(store, S, (s) => [s.usuarioId]);
  }

  get(id: string): SessaoRecord | undefined {
    this.store.refresh();
    return this.store.get<SessaoRecord>(S, id);
  }

  ofUser(usuarioId: string): SessaoRecord[] {
    this.store.refresh();
    return this.byUser.get(usuarioId);
  }

  /** Sessions last used before `cutoffMs` (the first `limit` found, if given). */
  expired(cutoffMs: number, limit = Number.POSITIVE_INFINITY): SessaoRecord[] {
    this.store.refresh();
    const out: SessaoRecord[] = [];
    for (const s of this.store.values<SessaoRecord>(S)) {
      if (out.length >= limit) break;
      if (s.usadaEm < cutoffMs) out.push(s);
    }
    return out;
  }

  save(tx: Tx, sessao: SessaoRecord): void {
    tx.put(S, sessao);
  }

  remove(tx: Tx, id: string): void {
    tx.delete(S, id);
  }
}
