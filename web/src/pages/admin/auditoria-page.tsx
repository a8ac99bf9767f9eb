/** `Auditoria`: who did what and when, filtered and paged; and the check of the trail's hash chain. */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { AuditEntrySchema } from '../../../../src/controllers/auditoria.controller.js';
import type { Usuario } from '../../../../src/schemas/usuario.schema.js';
import { api } from '../../api.js';
import { Field, ProblemMessage } from '../../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { PAPEL_NOMES, type Papel } from '../../session.js';
import { auditQuery, EMPTY_AUDIT_FILTERS, formatInstant, pageLabel, type AuditFilters } from './admin-logic.js';
import { TableScroll } from './table-scroll.js';

type AuditEntry = z.output<typeof AuditEntrySchema>;
interface AuditPage {
  items: AuditEntry[];
  total: number;
  limit: number;
  offset: number;
}
interface Verificacao {
  integra: boolean;
  entradas: number;
  primeiraQuebra?: { arquivo: string; linha: number };
}

const PAGE_SIZE = 50;
const FIELDS = ['usuarioId', 'pacienteId', 'acao', 'de', 'ate'] as const;

export function AuditoriaPage() {
  const [filters, setFilters] = useState<AuditFilters>(EMPTY_AUDIT_FILTERS);
  // The filters of the page shown: paging keeps them even while the form is being edited.
  const [applied, setApplied] = useState<AuditFilters>(EMPTY_AUDIT_FILTERS);
  const [page, setPage] = useState<AuditPage | null>(null);
  const [usuarios, setUsuarios] = useState<Usuario[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(problem, FIELDS);

  const load = async (f: AuditFilters, offset: number) => {
    setBusy(true);
    try {
      setPage(await api.get<AuditPage>('/sistema/auditoria', { query: auditQuery(f, { limit: PAGE_SIZE, offset }) }));
      setApplied(f);
      setProblem(null);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void load(EMPTY_AUDIT_FILTERS, 0);
    api
      .get<{ items: Usuario[] }>('/usuarios', { query: { limit: 500 } })
      .then((r) => setUsuarios(r.items))
      .catch((error: unknown) => setProblem(problemOf(error)));
  }, []);

  const set = (key: keyof AuditFilters, value: string) => setFilters((f) => ({ ...f, [key]: value }));
  const usuarioNome = (id: string | null) => (id === null ? 'Sistema' : (usuarios.find((u) => u.id === id)?.nome ?? id));
  // Suggestions for `Ação`: the actions already seen on this page (the trail names them like `paciente.ler`).
  const acoes = [...new Set(page?.items.map((e) => e.acao) ?? [])].sort();

  return (
    <main>
      <h1>Auditoria</h1>
      <form
        class="card form-grid admin-grid"
        onSubmit={(e) => {
          e.preventDefault();
          void load(filters, 0);
        }}
        noValidate
      >
        <Field label="Usuário" error={errors['usuarioId']}>
          {(a) => (
            <select {...a} value={filters.usuarioId} onChange={(e) => set('usuarioId', e.currentTarget.value)}>
              <option value="">Todos</option>
              {usuarios.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.nome} ({u.email})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Paciente" error={errors['pacienteId']} hint="Id do paciente">
          {(a) => <input {...a} value={filters.pacienteId} autoComplete="off" onInput={(e) => set('pacienteId', e.currentTarget.value)} />}
        </Field>
        <Field label="Ação" error={errors['acao']} hint="Ex.: paciente.ler, consulta.criar">
          {(a) => <input {...a} list="acoes-auditoria" value={filters.acao} autoComplete="off" onInput={(e) => set('acao', e.currentTarget.value)} />}
        </Field>
        <datalist id="acoes-auditoria">
          {acoes.map((acao) => (
            <option key={acao} value={acao} />
          ))}
        </datalist>
        <Field label="De" error={errors['de']}>
          {(a) => <input {...a} type="date" value={filters.de} onInput={(e) => set('de', e.currentTarget.value)} />}
        </Field>
        <Field label="Até" error={errors['ate']}>
          {(a) => <input {...a} type="date" value={filters.ate} onInput={(e) => set('ate', e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Filtrar
          </button>
          <button
            type="button"
            onClick={() => {
              setFilters(EMPTY_AUDIT_FILTERS);
              void load(EMPTY_AUDIT_FILTERS, 0);
            }}
          >
            Limpar filtros
          </button>
        </div>
      </form>
      <ProblemMessage problem={problem} fields={FIELDS} />
      <Verification />
      {page && (
        <>
          <p class="notice" role="status">
            {pageLabel({ offset: page.offset, count: page.items.length, total: page.total })}
          </p>
          {page.items.length > 0 && (
            <TableScroll label="Trilha de auditoria, mais novas primeiro">
              <table>
                <caption class="visually-hidden">Trilha de auditoria, mais novas primeiro</caption>
                <thead>
                  <tr>
                    <th scope="col">Quando</th>
                    <th scope="col">Usuário</th>
                    <th scope="col">Ação</th>
                    <th scope="col">Recurso</th>
                    <th scope="col">Pacientes</th>
                    <th scope="col">Status</th>
                    <th scope="col">IP</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((e) => (
                    <tr key={e.id}>
                      <td class="nowrap">{formatInstant(e.em)}</td>
                      <td>
                        {usuarioNome(e.usuarioId)}
                        {e.papel && <small> ({PAPEL_NOMES[e.papel as Papel] ?? e.papel})</small>}
                      </td>
                      <td>
                        <code>{e.acao}</code>
                      </td>
                      <td>
                        {e.recurso}
                        {e.recursoId && <small class="mono"> {e.recursoId}</small>}
                      </td>
                      <td class="mono">{e.pacienteIds?.join(', ') ?? '—'}</td>
                      <td>{e.status}</td>
                      <td>{e.ip}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
          <nav class="actions" aria-label="Páginas da auditoria">
            <button type="button" disabled={busy || page.offset === 0} onClick={() => void load(applied, Math.max(0, page.offset - PAGE_SIZE))}>
              Anterior
            </button>
            <button type="button" disabled={busy || page.offset + page.items.length >= page.total} onClick={() => void load(applied, page.offset + PAGE_SIZE)}>
              Próxima
            </button>
          </nav>
        </>
      )}
    </main>
  );
}

/** `Verificar integridade`: recomputes the hash chain on the server and says where it first breaks, if it does. */
function Verification() {
  const [result, setResult] = useState<Verificacao | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setProblem(null);
    try {
      setResult(await api.get<Verificacao>('/sistema/auditoria/verificacao'));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="verification">
      <button type="button" disabled={busy} onClick={() => void verify()}>
        {busy ? 'Verificando…' : 'Verificar integridade'}
      </button>
      <span role="status">
        {result &&
          (result.integra
            ? `Trilha íntegra: ${result.entradas} entradas conferidas.`
            : `Trilha alterada: primeira quebra em ${result.primeiraQuebra?.arquivo ?? '?'}, linha ${result.primeiraQuebra?.linha ?? '?'} (${result.entradas} entradas lidas).`)}
      </span>
      <ProblemMessage problem={problem} />
    </div>
  );
}
