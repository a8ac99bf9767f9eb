import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  CONTROL_CHARACTERS_MESSAGE, EMAIL_MAX, ESPECIALIDADE_MAX, MOTIVO_MAX, NOME_MAX, OBSERVACOES_MAX, TELEFONE_MAX,
} from '../../src/schemas/common.js';
import { makeApp, medicoBody, pacienteBody } from '../helpers/app.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

const paths = (res: request.Response) => (res.body.errors ?? []).map((e: { path: string }) => e.path);

/** An e-mail address exactly `length` characters long. */
const emailOf = (length: number) => `${'a'.repeat(length - '@clinica.com.br'.length)}@clinica.com.br`;
/** A valid telephone padded with spaces to `length` characters. */
const telefoneOf = (length: number) => '+55 11 91234-567'.padEnd(length - 1, ' ') + '8';

describe('free-text limits', () => {
  it.each([
    ['médico nome', '/medicos', medicoBody, { nome: 'A'.repeat(NOME_MAX + 1) }, 'nome'],
    ['médico especialidade', '/medicos', medicoBody, { especialidade: 'E'.repeat(ESPECIALIDADE_MAX + 1) }, 'especialidade'],
    ['médico e-mail', '/medicos', medicoBody, { email: emailOf(EMAIL_MAX + 1) }, 'email'],
    ['médico telefone', '/medicos', medicoBody, { telefone: telefoneOf(TELEFONE_MAX + 1) }, 'telefone'],
    ['paciente nome', '/pacientes', pacienteBody, { nome: 'B'.repeat(NOME_MAX + 1) }, 'nome'],
    ['paciente e-mail', '/pacientes', pacienteBody, { email: emailOf(EMAIL_MAX + 1) }, 'email'],
    ['paciente telefone', '/pacientes', pacienteBody, { telefone: telefoneOf(TELEFONE_MAX + 1) }, 'telefone'],
  ])('when the %s is one character over its limit, then 400 naming the field, and at the limit it is accepted', async (_c, url, body, over, field) => {
    const { app, container } = await makeApp({ storage: 'memory' });
    const res = await request(app).post(url).send(body(over));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ type: '/problemas/validacao', status: 400 });
    expect(paths(res)).toEqual([field]);
    expect(res.body.errors[0].message).toMatch(/no máximo/);

    const atLimit = Object.fromEntries(Object.entries(over).map(([k, v]) => [k, k === 'email' ? emailOf(v.length - 1) : k === 'telefone' ? telefoneOf(v.length - 1) : v.slice(1)]));
    const ok = await request(app).post(url).send(body(atLimit));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body[field]).toBe(atLimit[field]);
    expect(container.store!.count(url.slice(1))).toBe(1);
  });

  it('when observações pass their limit on booking or on closing a consulta, then 400 naming observacoes; at the limit, with line breaks, they are kept', async () => {
    const { app } = await makeApp({ storage: 'memory' });
    const { medicoId, pacienteId } = await clinic(app);
    const over = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), observacoes: 'o'.repeat(OBSERVACOES_MAX + 1) });
    expect(over.status).toBe(400);
    expect(paths(over)).toEqual(['observacoes']);

    const notes = `Retorno.\nTrazer exames.\t${'o'.repeat(OBSERVACOES_MAX - 24)}`;
    expect(notes).toHaveLength(OBSERVACOES_MAX);
    const ok = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), observacoes: notes });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.observacoes).toBe(notes);

    const patch = await request(app).patch(`/consultas/${ok.body.id}`).send({ status: 'realizada', observacoes: 'p'.repeat(OBSERVACOES_MAX + 1) });
    expect(patch.status).toBe(400);
    expect(paths(patch)).toEqual(['observacoes']);
  });

  it('when a cancellation motivo passes its limit, then 400 naming motivo; at the limit it is kept', async () => {
    const { app } = await makeApp({ storage: 'memory' });
    const { medicoId, pacienteId } = await clinic(app);
    const booked = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const over = await request(app).post(`/consultas/${booked.body.id}/cancelar`).send({ motivo: 'm'.repeat(MOTIVO_MAX + 1) });
    expect(over.status).toBe(400);
    expect(paths(over)).toEqual(['motivo']);
    const ok = await request(app).post(`/consultas/${booked.body.id}/cancelar`).send({ motivo: 'm'.repeat(MOTIVO_MAX) });
    expect(ok.status).toBe(200);
    expect(ok.body.motivoCancelamento).toHaveLength(MOTIVO_MAX);
  });
});

describe('control and bidi-override characters', () => {
  it.each([
    ['a right-to-left override (U+202E)', 'Ana \u202Eazuos'],
    ['a NUL', 'Ana\u0000Souza'],
    ['a line break', 'Ana\nSouza'],
    ['an escape (U+001B)', 'Ana \u001b[31mSouza'],
    ['a DEL (U+007F)', 'Ana\u007fSouza'],
    ['a left-to-right embedding (U+202A)', '\u202AAna Souza'],
    ['a first-strong isolate (U+2068)', 'Ana \u2068Souza\u2069'],
  ])('when a name holds %s, then 400 in pt-BR naming the field and nothing is stored', async (_c, nome) => {
    const { app, container } = await makeApp({ storage: 'memory' });
    for (const [url, body] of [['/medicos', medicoBody({ nome })], ['/pacientes', pacienteBody({ nome })]] as const) {
      const res = await request(app).post(url).send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ path: 'nome', message: CONTROL_CHARACTERS_MESSAGE }]);
    }
    expect(container.store!.count('medicos') + container.store!.count('pacientes')).toBe(0);
  });

  it('when especialidade, observações or motivo hold a bidi override or NUL, then 400 naming each', async () => {
    const { app } = await makeApp({ storage: 'memory' });
    const medico = await request(app).post('/medicos').send(medicoBody({ especialidade: 'Cardio\u202Eigol' }));
    expect(paths(medico)).toEqual(['especialidade']);
    const { medicoId, pacienteId } = await clinic(app);
    const booking = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), observacoes: 'ok\u0000' });
    expect(paths(booking)).toEqual(['observacoes']);
    const booked = await agendar(app, { medicoId, pacienteId, inicio: at('08:00') }).expect(201);
    const cancel = await request(app).post(`/consultas/${booked.body.id}/cancelar`).send({ motivo: 'pedido \u2066do paciente' });
    expect(paths(cancel)).toEqual(['motivo']);
  });

  it('when a search holds a control character, then 400 naming q rather than a search for it', async () => {
    const { app } = await makeApp({ storage: 'memory' });
    const res = await request(app).get('/pacientes').query({ q: 'Jo\u202Eão' });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['q']);
  });

  it.each(['João da Conceição', 'Ângela Müller d’Ávila', 'María José Núñez-Araújo', 'Çaíque Ülkü', 'Zoë Brontë Œuvre'])(
    'when a Portuguese (or foreign) name has accents, such as %s, then it is accepted as typed',
    async (nome) => {
      const { app } = await makeApp({ storage: 'memory' });
      const medico = await request(app).post('/medicos').send(medicoBody({ nome: `  ${nome} ` }));
      expect(medico.status, JSON.stringify(medico.body)).toBe(201);
      expect(medico.body.nome).toBe(nome);
      const paciente = await request(app).post('/pacientes').send(pacienteBody({ nome }));
      expect(paciente.status).toBe(201);
      expect(paciente.body.nome).toBe(nome);
    },
  );
});
