/** `Horários livres`: the next free slots, of one especialidade or of all, each bookable from here. */
import { useEffect, useState } from 'preact/hooks';
import type { HorarioLivre } from '../../../src/schemas/lista-espera.schema.js';
import type { Medico } from '../../../src/schemas/medico.schema.js';
import { BookDialog, type BookTarget } from '../agenda/book-dialog.js';
import { clinicTimezone } from '../agenda/use-day.js';
import { api } from '../api.js';
import { Field, ProblemMessage } from '../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';

/**
 * The server writes every instant in the clinic's zone with its offset (`2026-12-07T09:00:00-03:00`): the date and
 * time written there are the clinic's wall clock, whatever zone this browser is in.
 */
const clinicDate = (inicio: string) =>
  new Date(`${inicio.slice(0, 10)}T12:00:00Z`).toLocaleDateString('pt-BR', { timeZone: 'UTC', weekday: 'short', day: '2-digit', month: '2-digit' });
const clinicTime = (inicio: string) => inicio.slice(11, 16);
const FIELDS = ['especialidade', 'de', 'limit'] as const;

export function HorariosLivresPage() {
  const [medicos, setMedicos] = useState<Medico[]>([]);
  const [especialidade, setEspecialidade] = useState('');
  const [de, setDe] = useState('');
  const [items, setItems] = useState<HorarioLivre[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [booking, setBooking] = useState<BookTarget | null>(null);
  const errors = fieldErrors(problem, FIELDS);

  useEffect(() => {
    api
      .get<{ items: Medico[] }>('/medicos', { query: { ativo: 'true', limit: 500 } })
      .then((r) => setMedicos(r.items))
      .catch((error: unknown) => setProblem(problemOf(error)));
  }, []);
  const especialidades = [...new Set(medicos.map((m) => m.especialidade))].sort((a, b) => a.localeCompare(b, 'pt-BR'));

  const search = async (event?: Event) => {
    event?.preventDefault();
    try {
      const r = await api.get<{ items: HorarioLivre[] }>('/horarios-livres', { query: { especialidade: especialidade || undefined, de: de || undefined, limit: 30 } });
      setItems(r.items);
      setProblem(null);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };

  const nome = (id: string) => medicos.find((m) => m.id === id)?.nome ?? id;
  return (
    <main>
      <h1>Horários livres</h1>
      <form class="card form-grid" onSubmit={search}>
        <Field label="Especialidade" error={errors['especialidade']}>
          {(a) => (
            <select {...a} value={especialidade} onChange={(e) => setEspecialidade(e.currentTarget.value)}>
              <option value="">Todas</option>
              {especialidades.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="A partir de" error={errors['de']}>
          {(a) => <input {...a} type="date" value={de} onInput={(e) => setDe(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="primary">
            Buscar
          </button>
        </div>
      </form>
      <ProblemMessage problem={problem} fields={FIELDS} />
      {items && items.length === 0 && <p class="notice">Nenhum horário livre encontrado.</p>}
      {items && items.length > 0 && (
        <table>
          <caption class="visually-hidden">Próximos horários livres</caption>
          <thead>
            <tr>
              <th scope="col">Dia</th>
              <th scope="col">Horário</th>
              <th scope="col">Médico</th>
              <th scope="col">Especialidade</th>
              <th scope="col">
                <span class="visually-hidden">Ação</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((h) => (
              <tr key={h.medicoId + h.inicio} data-medico-id={h.medicoId} data-inicio={h.inicio}>
                <td>{clinicDate(h.inicio)}</td>
                <td>{clinicTime(h.inicio)}</td>
                <td>{nome(h.medicoId)}</td>
                <td>{medicos.find((m) => m.id === h.medicoId)?.especialidade}</td>
                <td>
                  <button type="button" onClick={() => setBooking({ medicoId: h.medicoId, medicoNome: nome(h.medicoId), inicio: h.inicio, timezone: clinicTimezone.value })}>
                    Agendar
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {booking && (
        <BookDialog
          target={booking}
          onClose={() => setBooking(null)}
          onBooked={() => {
            setBooking(null);
            void search();
          }}
        />
      )}
    </main>
  );
}
