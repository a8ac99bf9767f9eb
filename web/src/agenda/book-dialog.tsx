/** `Agendar consulta` from a free slot (the grid, the waiting list's vaga, or `Horários livres`). */
import { useState } from 'preact/hooks';
import { api, idempotencyKey } from '../api.js';
import { Dialog } from '../components/dialog.js';
import { DialogFooter } from '../components/dialog-footer.js';
import { PacientePicker, type PacienteEscolhido } from '../components/paciente-picker.js';
import { Field, ProblemMessage } from '../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { timeInZone } from './grid.js';

const FIELDS = ['pacienteId', 'inicio', 'observacoes'] as const;

export interface BookTarget {
  medicoId: string;
  medicoNome: string;
  inicio: string;
  timezone: string;
  /** Preselected paciente (booking a waiting-list entry into its vaga). */
  paciente?: PacienteEscolhido;
}

export function BookDialog({ target, onClose, onBooked }: { target: BookTarget; onClose: () => void; onBooked: () => void }) {
  const [paciente, setPaciente] = useState<PacienteEscolhido | null>(target.paciente ?? null);
  const [observacoes, setObservacoes] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per dialog: a double click or a retry after a network error books once.
  const [key] = useState(idempotencyKey);
  const errors = fieldErrors(problem, FIELDS);

  const book = async (event: Event) => {
    event.preventDefault();
    if (!paciente) return setProblem({ type: 'about:blank', title: '', status: 0, detail: 'Escolha ou cadastre um paciente.', errors: [] });
    setBusy(true);
    try {
      await api.post(
        '/consultas/agendar',
        { medicoId: target.medicoId, pacienteId: paciente.id, inicio: target.inicio, observacoes: observacoes.trim() || null },
        { headers: { 'Idempotency-Key': key } },
      );
      onBooked();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  const dia = new Date(target.inicio).toLocaleDateString('pt-BR', { timeZone: target.timezone });
  return (
    <Dialog title="Agendar consulta" onClose={onClose}>
      <p>
        {target.medicoNome} — {dia} às {timeInZone(target.inicio, target.timezone)}
      </p>
      <PacientePicker value={paciente} onChange={setPaciente} />
      <form onSubmit={book} class="stack">
        <Field label="Observações" error={errors['observacoes']}>
          {(a) => <textarea {...a} rows={2} value={observacoes} onInput={(e) => setObservacoes(e.currentTarget.value)} />}
        </Field>
        <ProblemMessage problem={problem} fields={['observacoes']} />
        <DialogFooter primary="Agendar" disabled={busy || !paciente} cancel="Fechar" onCancel={onClose} />
      </form>
    </Dialog>
  );
}
