/** `Agendar encaixe`: a consulta squeezed in at any minute of a médico's day, over or between slots. */
import { useState } from 'preact/hooks';
import type * as ConsultaSchema from '../../../src/schemas/consulta.schema.js';
import { api, idempotencyKey } from '../api.js';
import { Dialog } from '../components/dialog.js';
import { DialogFooter } from '../components/dialog-footer.js';
import { PacientePicker, type PacienteEscolhido } from '../components/paciente-picker.js';
import { Field, ProblemMessage } from '../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { instantAt } from './time.js';

const FIELDS = ['inicio', 'duracaoMin', 'observacoes'] as const;

// The server's limits, typed by its literal constants (a value import would bring zod into the bundle):
// if the server changes them, this stops compiling.
const ENCAIXE_DURACAO_MIN: typeof ConsultaSchema.ENCAIXE_DURACAO_MIN = 5;
const ENCAIXE_DURACAO_MAX: typeof ConsultaSchema.ENCAIXE_DURACAO_MAX = 60;
const ENCAIXE_DURACAO_PADRAO_MIN: typeof ConsultaSchema.ENCAIXE_DURACAO_PADRAO_MIN = 15;

export function EncaixeDialog(props: { medicoId: string; medicoNome: string; data: string; timezone: string; onClose: () => void; onBooked: () => void }) {
  const [paciente, setPaciente] = useState<PacienteEscolhido | null>(null);
  const [horario, setHorario] = useState('');
  const [duracao, setDuracao] = useState(String(ENCAIXE_DURACAO_PADRAO_MIN));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [key] = useState(idempotencyKey);
  const errors = fieldErrors(problem, FIELDS);

  const book = async (event: Event) => {
    event.preventDefault();
    if (!paciente) return;
    setBusy(true);
    try {
      await api.post(
        '/consultas/agendar',
        { medicoId: props.medicoId, pacienteId: paciente.id, inicio: instantAt(props.data, horario, props.timezone), encaixe: true, duracaoMin: Number(duracao) },
        { headers: { 'Idempotency-Key': key } },
      );
      props.onBooked();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Agendar encaixe" onClose={props.onClose}>
      <p>
        {props.medicoNome} — {props.data.split('-').reverse().join('/')}
      </p>
      <PacientePicker value={paciente} onChange={setPaciente} />
      <form onSubmit={book} class="form-grid">
        <Field label="Horário" error={errors['inicio']}>
          {(a) => <input {...a} type="time" required value={horario} onInput={(e) => setHorario(e.currentTarget.value)} />}
        </Field>
        <Field label="Duração (min)" error={errors['duracaoMin']}>
          {(a) => (
            <input {...a} type="number" min={ENCAIXE_DURACAO_MIN} max={ENCAIXE_DURACAO_MAX} required value={duracao} onInput={(e) => setDuracao(e.currentTarget.value)} />
          )}
        </Field>
        <ProblemMessage problem={problem} fields={FIELDS} />
        <DialogFooter primary="Agendar encaixe" disabled={busy || !paciente || !horario} cancel="Fechar" onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
