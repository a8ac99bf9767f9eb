/** `Auditoria`: who did what and when, filtered and paged; and the check of the trail's hash chain. */
import './admin.css';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { AuditEntrySchema } from '../../../../src/controllers/auditoria.controller.js';
import type { Usuario } from '../../../../src/schemas/usuario.schema.js';
import { api } from '../../api.js';
import { InputField, SelectField } from '../../components/field.js';
import { PacientePicker, type PacienteEscolhido } from '../../components/paciente-picker.js';
import { ProblemMessage } from '../../components/problem-message.js';
import { TableHead, TableScroll } from '../../components/table-scroll.js';
import { useAction } from '../../components/use-action.js';
import { fieldErrors, problemOf, type Problem } from '../../problem.js';
import { PAPEL_NOMES, type Papel } from '../../session.js';
import { auditQuery, EMPTY_AUDIT_FILTERS, formatInstant, pageLabel, type AuditFilters } from './admin-logic.js';

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
  // The paciente picked in the filter (its id goes in `filters.pacienteId`), shown by name.
  const [paciente, setPaciente] = useState<PacienteEscolhido | null>(null);
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
        class="card form-grid admin-grid audit-filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load(filters, 0);
        }}
        noValidate
      >
        <SelectField
          label="Usuário"
          value={filters.usuarioId}
          onValue={(v) => set('usuarioId', v)}
          emptyLabel="Todos"
          options={usuarios.map((u) => ({ value: u.id, label: `${u.nome} (${u.email})` }))}
          error={errors['usuarioId']}
        />
        <PacientePicker
          mode="filter"
          searchLabel="Paciente"
          error={errors['pacienteId']}
          value={paciente}
          onChange={(p) => {
            setPaciente(p);
            set('pacienteId', p?.id ?? '');
          }}
        />
        <InputField label="Ação" list="acoes-auditoria" value={filters.acao} onValue={(v) => set('acao', v)} autoComplete="off" error={errors['acao']} hint="Ex.: paciente.ler" />
        <datalist id="acoes-auditoria">
          {acoes.map((acao) => (
            <option key={acao} value={acao} />
          ))}
        </datalist>
        <InputField label="De" type="date" value={filters.de} onValue={(v) => set('de', v)} error={errors['de']} />
        <InputField label="Até" type="date" value={filters.ate} onValue={(v) => set('ate', v)} error={errors['ate']} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Filtrar
          </button>
          <button
            type="button"
            onClick={() => {
              setFilters(EMPTY_AUDIT_FILTERS);
              setPaciente(null);
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
                <TableHead columns={['Quando', 'Usuário', 'Ação', 'Recurso', 'Pacientes', 'Status', 'IP']} />
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
  const { busy, problem, run } = useAction();
  const verify = () => run(async () => setResult(await api.get<Verificacao>('/sistema/auditoria/verificacao')));
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
