/**
 * `Consulta`: who, when, status, and the front-desk actions. Only what the status table allows now is
 * enabled; cancelling asks for a motivo, remarcar shows the free slots of a chosen day.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { z } from 'zod';
import type { Agenda as AgendaSchema } from '../../../src/schemas/agenda.schema.js';
import type { Consulta } from '../../../src/schemas/consulta.schema.js';
import type { Paciente } from '../../../src/schemas/paciente.schema.js';
import { api, idempotencyKey } from '../api.js';
import { Dialog } from '../components/dialog.js';
import { DialogFooter } from '../components/dialog-footer.js';
import { Field, ProblemMessage } from '../components/problem-message.js';
import { fieldErrors, problemOf, type Problem } from '../problem.js';
import { ACTION_LABELS, allowedActions, STATUS_ROTULOS, type ConsultaAction } from './actions.js';
import { dayInZone, timeInZone } from './grid.js';

type Agenda = z.output<typeof AgendaSchema>;

export function ConsultaDialog(props: { consultaId: string; medicoNome: string; timezone: string; onClose: () => void; onChanged: () => void }) {
  const [consulta, setConsulta] = useState<Consulta | null>(null);
  const [paciente, setPaciente] = useState<Paciente | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [mode, setMode] = useState<'acoes' | 'cancelar' | 'remarcar'>('acoes');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);

  const load = async () => {
    try {
      const c = await api.get<Consulta>(`/consultas/${encodeURIComponent(props.consultaId)}`);
      setConsulta(c);
      setPaciente(await api.get<Paciente>(`/pacientes/${encodeURIComponent(c.pacienteId)}`).catch(() => null));
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  useEffect(() => void load(), [props.consultaId]);

  const run = async (label: string, call: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await call();
      setDone(label);
      setMode('acoes');
      await load();
      props.onChanged();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };

  const id = encodeURIComponent(props.consultaId);
  const patch = (status: string) => () => api.patch(`/consultas/${id}`, { status });
  const calls: Record<Exclude<ConsultaAction, 'cancelar' | 'remarcar'>, () => Promise<unknown>> = {
    confirmar: patch('confirmada'),
    checkin: () => api.post(`/consultas/${id}/checkin`),
    iniciar: patch('em_atendimento'),
    concluir: patch('realizada'),
    faltou: patch('faltou'),
  };
  const allowed = consulta ? allowedActions(consulta.status, consulta.inicio, Date.now()) : null;

  return (
    <Dialog title="Consulta" onClose={props.onClose} wide>
      {!consulta && !problem && <p role="status">Carregando…</p>}
      {consulta && (
        <dl class="facts">
          <dt>Paciente</dt>
          <dd>{paciente?.nome ?? '—'}</dd>
          <dt>Médico</dt>
          <dd>{props.medicoNome}</dd>
          <dt>Horário</dt>
          <dd>
            {new Date(consulta.inicio).toLocaleDateString('pt-BR', { timeZone: props.timezone })} {timeInZone(consulta.inicio, props.timezone)}–
            {timeInZone(consulta.fim, props.timezone)}
            {consulta.encaixe ? ' (encaixe)' : ''}
          </dd>
          <dt>Status</dt>
          <dd data-status={consulta.status}>{STATUS_ROTULOS[consulta.status]}</dd>
          {consulta.observacoes && (
            <>
              <dt>Observações</dt>
              <dd>{consulta.observacoes}</dd>
            </>
          )}
          {consulta.motivoCancelamento && (
            <>
              <dt>Motivo do cancelamento</dt>
              <dd>{consulta.motivoCancelamento}</dd>
            </>
          )}
        </dl>
      )}
      {done && (
        <p role="status" class="notice">
          Feito: {done}.
        </p>
      )}
      <ProblemMessage problem={problem} fields={['motivo', 'inicio']} />
      {consulta && allowed && mode === 'acoes' && (
        <div class="actions">
          {(Object.keys(calls) as Array<keyof typeof calls>).map((action) => (
            <button key={action} type="button" disabled={busy || !allowed[action]} onClick={() => void run(ACTION_LABELS[action], calls[action])}>
              {ACTION_LABELS[action]}
            </button>
          ))}
          <button type="button" class="danger" disabled={busy || !allowed.cancelar} onClick={() => setMode('cancelar')}>
            Cancelar consulta
          </button>
          <button type="button" disabled={busy || !allowed.remarcar} onClick={() => setMode('remarcar')}>
            Remarcar
          </button>
        </div>
      )}
      {consulta && mode === 'cancelar' && (
        <Cancelar busy={busy} problem={problem} onBack={() => setMode('acoes')} onConfirm={(motivo) => void run('consulta cancelada', () => api.post(`/consultas/${id}/cancelar`, { motivo: motivo || null }))} />
      )}
      {consulta && mode === 'remarcar' && (
        <Remarcar
          consulta={consulta}
          timezone={props.timezone}
          busy={busy}
          problem={problem}
          onBack={() => setMode('acoes')}
          onConfirm={(inicio, key) => void run('consulta remarcada', () => api.post(`/consultas/${id}/remarcar`, { inicio }, { headers: { 'Idempotency-Key': key } }))}
        />
      )}
    </Dialog>
  );
}

function Cancelar(props: { busy: boolean; problem: Problem | null; onBack: () => void; onConfirm: (motivo: string) => void }) {
  const [motivo, setMotivo] = useState('');
  const errors = fieldErrors(props.problem, ['motivo']);
  // The motivo field replaces the buttons: focus moves to it, or it would be lost with the button pressed.
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => form.current?.querySelector('textarea')?.focus(), []);
  return (
    <form
      ref={form}
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        props.onConfirm(motivo.trim());
      }}
    >
      <Field label="Motivo do cancelamento" error={errors['motivo']}>
        {(a) => <textarea {...a} rows={2} value={motivo} onInput={(e) => setMotivo(e.currentTarget.value)} />}
      </Field>
      <DialogFooter primary="Confirmar cancelamento" tone="danger" disabled={props.busy} cancel="Voltar" onCancel={props.onBack} />
    </form>
  );
}

function Remarcar(props: { consulta: Consulta; timezone: string; busy: boolean; problem: Problem | null; onBack: () => void; onConfirm: (inicio: string, key: string) => void }) {
  const [data, setData] = useState(dayInZone(props.consulta.inicio, props.timezone));
  const [livres, setLivres] = useState<Agenda['slots'] | null>(null);
  const [escolhido, setEscolhido] = useState<string | null>(null);
  const [loadProblem, setLoadProblem] = useState<Problem | null>(null);
  const [key] = useState(idempotencyKey);
  const errors = fieldErrors(props.problem, ['inicio']);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => box.current?.querySelector('input')?.focus(), []);

  useEffect(() => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(data)) return;
    setLivres(null);
    setEscolhido(null);
    api
      .get<Agenda>(`/medicos/${encodeURIComponent(props.consulta.medicoId)}/agenda`, { query: { data } })
      .then((a) => {
        setLivres(a.slots.filter((s) => s.estado === 'disponivel'));
        setLoadProblem(null);
      })
      .catch((error: unknown) => setLoadProblem(problemOf(error)));
  }, [data]);

  return (
    <div class="stack" ref={box}>
      <Field label="Nova data">{(a) => <input {...a} type="date" value={data} onInput={(e) => setData(e.currentTarget.value)} />}</Field>
      <ProblemMessage problem={loadProblem} />
      <fieldset>
        <legend>Horários livres em {data.split('-').reverse().join('/')}</legend>
        {livres === null && !loadProblem && <p role="status">Carregando…</p>}
        {livres?.length === 0 && <p class="notice">Nenhum horário livre neste dia.</p>}
        <div class="slot-choices">
          {livres?.map((s) => (
            <button key={s.inicio} type="button" aria-pressed={escolhido === s.inicio} data-inicio={s.inicio} onClick={() => setEscolhido(s.inicio)}>
              {timeInZone(s.inicio, props.timezone)}
            </button>
          ))}
        </div>
        {errors['inicio'] && <p class="field-error">{errors['inicio']}</p>}
      </fieldset>
      <DialogFooter
        primary="Confirmar remarcação"
        disabled={props.busy || !escolhido}
        onPrimary={() => escolhido && props.onConfirm(escolhido, key)}
        cancel="Voltar"
        onCancel={props.onBack}
      />
    </div>
  );
}
