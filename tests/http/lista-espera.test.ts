import type { Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/core/clock.js';
import { bearer, makeApp, medicoBody, signIn } from '../helpers/app.js';
import { faultyFs } from '../helpers/faults.js';
import { NEXT_MONDAY, agendar, at, clinic } from '../helpers/scheduling.js';
import { listen, openStream } from '../helpers/sse.js';

const entrada = (app: Express, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  request(app).post('/lista-espera').set(headers).send(body);

/** A clinic with two cardiologists (Mondays 08–12 and 14–18, 30 minutes), a pediatrician and three pacientes. */
async function front(options: Parameters<typeof makeApp>[0] = {}) {
  const t = await makeApp(options);
  const { medicos, pacientes } = await clinic(t.app, { medicos: 2, pacientes: 3 });
  const ped = await request(t.app).post('/medicos').send(medicoBody({ nome: 'Pedro Pediatra', crm: '5555/SP', especialidade: 'Pediatria' })).expect(201);
  // Entries are listed in order of arrival: a second apart, so entries made in one test instant do not tie.
  const add = (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    (t.container.clock as ManualClock).advance(1000);
    return entrada(t.app, body, headers);
  };
  return { ...t, add, cardio: medicos as [string, string], pediatra: ped.body.id as string, pacientes: pacientes as [string, string, string] };
}

describe('lista de espera', () => {
  it('when entries are created, listed with filters and deleted, then each step answers as the contract says and is audited', async () => {
    const { app, container, cardio, pediatra, pacientes, add } = await front();
    const porMedico = await add({ pacienteId: pacientes[0], medicoId: cardio[0], de: NEXT_MONDAY, ate: '2026-12-11', observacoes: 'Prefere manhã.\nLigar antes.' });
    expect(porMedico.status).toBe(201);
    expect(porMedico.headers.location).toBe(`/lista-espera/${porMedico.body.id}`);
    expect(porMedico.body).toMatchObject({ pacienteId: pacientes[0], medicoId: cardio[0], especialidade: null, de: NEXT_MONDAY, ate: '2026-12-11', ativa: true });
    const porEspecialidade = await add({ pacienteId: pacientes[1], especialidade: 'cardiologia', de: '2026-12-07T10:00:00Z', ate: '2026-12-20' });
    expect(porEspecialidade.status).toBe(201);
    expect(porEspecialidade.body.de).toBe('2026-12-07T07:00:00-03:00'); // instants are answered in the clinic's zone
    const pediatria = await add({ pacienteId: pacientes[2], medicoId: pediatra, de: NEXT_MONDAY, ate: NEXT_MONDAY });
    expect(pediatria.status).toBe(201);

    const ids = async (query: Record<string, string>) => (await request(app).get('/lista-espera').query(query).expect(200)).body.items.map((e: { id: string }) => e.id);
    expect(await ids({})).toEqual([porMedico.body.id, porEspecialidade.body.id, pediatria.body.id]);
    expect(await ids({ medicoId: cardio[0] })).toEqual([porMedico.body.id]);
    // By especialidade: entries naming it, and entries for a médico of it.
    expect(await ids({ especialidade: 'Cardiologia' })).toEqual([porMedico.body.id, porEspecialidade.body.id]);
    expect(await ids({ ativa: 'false' })).toEqual([]);
    const page = await request(app).get('/lista-espera').query({ limit: 1, offset: 1 }).expect(200);
    expect(page.body).toMatchObject({ total: 3, limit: 1, offset: 1, items: [{ id: porEspecialidade.body.id }] });

    // Served: the paciente got a consulta with the médico inside the window.
    expect((await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[0], inicio: at('09:00') })).status).toBe(201);
    expect(await ids({ ativa: 'true' })).toEqual([porEspecialidade.body.id, pediatria.body.id]);
    // Past: the window ended.
    (container.clock as ManualClock).set(new Date('2026-12-08T12:00:00Z'));
    expect(await ids({ ativa: 'true' })).toEqual([porEspecialidade.body.id]);
    expect(await ids({ ativa: 'false' })).toEqual([porMedico.body.id, pediatria.body.id]);

    expect((await request(app).delete(`/lista-espera/${pediatria.body.id}`)).status).toBe(204);
    expect((await request(app).delete(`/lista-espera/${pediatria.body.id}`)).status).toBe(404);
    expect(await ids({})).toEqual([porMedico.body.id, porEspecialidade.body.id]);

    // The LGPD export holds the paciente's entries.
    const dados = await request(app).get(`/pacientes/${pacientes[1]}/dados`).expect(200);
    expect(dados.body.listaEspera).toEqual([expect.objectContaining({ id: porEspecialidade.body.id, ativa: true })]);

    await container.auditor.flush();
    const acoes = (await container.auditLog.query({ pacienteId: pacientes[2], limit: 100, offset: 0 })).items.map((e) => e.acao);
    expect(acoes).toEqual(expect.arrayContaining(['lista_espera.criar', 'lista_espera.listar', 'lista_espera.excluir']));
  });

  it('when the input is invalid, then 400 or 422 name the field', async () => {
    const { cardio, pediatra, pacientes, add } = await front();
    const base = { pacienteId: pacientes[0], medicoId: cardio[0], de: NEXT_MONDAY, ate: '2026-12-11' };
    const fails = async (body: Record<string, unknown>, status: number, path: string) => {
      const res = await add(body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.errors, JSON.stringify(res.body)).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    };
    await fails({ ...base, de: '2026-12-11', ate: NEXT_MONDAY }, 400, 'ate');
    await fails({ ...base, de: at('10:00'), ate: at('10:00') }, 400, 'ate');
    await fails({ ...base, de: '2026-11-01', ate: '2026-11-29' }, 400, 'ate'); // already over
    await fails({ pacienteId: pacientes[0], de: NEXT_MONDAY, ate: NEXT_MONDAY }, 400, 'medicoId');
    await fails({ ...base, de: 'amanhã' }, 400, 'de');
    await fails({ ...base, observacoes: 'Sr. \u202Eadmin' }, 400, 'observacoes');
    await fails({ ...base, observacoes: 'x'.repeat(1001) }, 400, 'observacoes');
    await fails({ ...base, medicoId: undefined, especialidade: 'C\u0000ardio' }, 400, 'especialidade');
    await fails({ ...base, especialidade: 'Pediatria' }, 400, 'especialidade');
    await fails({ ...base, pacienteId: 'nao-existe' }, 422, 'pacienteId');
    await fails({ ...base, medicoId: 'nao-existe' }, 422, 'medicoId');
    expect((await add({ ...base, medicoId: pediatra, especialidade: 'pediatria' })).status).toBe(201);
  });

  it('when a médico user works with the list, then only entries of its own médico are seen and written', async () => {
    const { app, container, cardio, pacientes, add } = await front();
    const outro = await add({ pacienteId: pacientes[0], medicoId: cardio[1], de: NEXT_MONDAY, ate: NEXT_MONDAY }).expect(201);
    const especialidade = await add({ pacienteId: pacientes[1], especialidade: 'Cardiologia', de: NEXT_MONDAY, ate: NEXT_MONDAY }).expect(201);
    const medico = bearer((await signIn(container, 'medico', cardio[0])).token);
    const recepcao = bearer((await signIn(container, 'recepcao')).token);

    const meu = await add({ pacienteId: pacientes[2], medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY }, medico);
    expect(meu.status).toBe(201);
    expect((await add({ pacienteId: pacientes[2], medicoId: cardio[1], de: NEXT_MONDAY, ate: NEXT_MONDAY }, medico)).body.type).toBe('/problemas/acesso-negado');
    expect((await add({ pacienteId: pacientes[2], especialidade: 'Cardiologia', de: NEXT_MONDAY, ate: NEXT_MONDAY }, medico)).status).toBe(403);

    const visto = await request(app).get('/lista-espera').set(medico).expect(200);
    expect(visto.body.items.map((e: { id: string }) => e.id)).toEqual([meu.body.id]);
    expect((await request(app).get('/lista-espera').query({ medicoId: cardio[1] }).set(medico)).status).toBe(403);
    expect((await request(app).delete(`/lista-espera/${outro.body.id}`).set(medico)).status).toBe(403);
    expect((await request(app).delete(`/lista-espera/${especialidade.body.id}`).set(medico)).status).toBe(404);
    expect((await request(app).delete(`/lista-espera/${meu.body.id}`).set(medico)).status).toBe(204);

    // The front desk sees and manages everything.
    expect((await request(app).get('/lista-espera').set(recepcao).expect(200)).body.total).toBe(2);
    expect((await request(app).delete(`/lista-espera/${outro.body.id}`).set(recepcao)).status).toBe(204);
  });

  it('when a paciente is deleted or anonymised, then their waiting-list entries go with them', async () => {
    const { app, cardio, pacientes, add } = await front();
    for (const pacienteId of [pacientes[0], pacientes[1], pacientes[2]]) {
      await add({ pacienteId, medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY, observacoes: 'Telefone do filho: 11 99999-0000' }).expect(201);
    }
    await request(app).delete(`/pacientes/${pacientes[0]}`).expect(204);
    await request(app).post(`/pacientes/${pacientes[1]}/anonimizar`).expect(200);
    const left = await request(app).get('/lista-espera').expect(200);
    expect(left.body.items.map((e: { pacienteId: string }) => e.pacienteId)).toEqual([pacientes[2]]);
  });
});

describe('vaga_disponivel', () => {
  it('when a consulta is cancelled, then the stream sends vaga_disponivel with the matching entries only, and no patient data', async () => {
    const { app, cardio, pediatra, pacientes, add } = await front();
    const consulta = await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[2], inicio: at('08:00') }).expect(201);
    const create = async (body: Record<string, unknown>) => (await add({ pacienteId: pacientes[0], ...body }).expect(201)).body.id as string;
    const porMedico = await create({ medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY });
    const porEspecialidade = await create({ especialidade: 'Cardiologia', de: at('07:00'), ate: at('09:00') });
    await create({ medicoId: cardio[1], de: NEXT_MONDAY, ate: NEXT_MONDAY }); // another médico
    await create({ especialidade: 'Pediatria', de: NEXT_MONDAY, ate: NEXT_MONDAY }); // another especialidade
    await create({ medicoId: cardio[0], de: '2026-12-14', ate: '2026-12-18' }); // another week
    await create({ medicoId: cardio[0], de: at('08:15'), ate: at('12:00') }); // the slot is not inside the window
    const removida = await create({ medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY });
    await request(app).delete(`/lista-espera/${removida}`).expect(204);
    expect(pediatra).toBeDefined();

    const server = await listen(app);
    const stream = await openStream(`${server.url}/sistema/agenda/stream`);
    await request(app).post(`/consultas/${consulta.body.id}/cancelar`).send({}).expect(200);
    await stream.until(() => stream.messages.some((m) => m.event === 'vaga_disponivel'));
    const vagas = stream.messages.filter((m) => m.event === 'vaga_disponivel').map((m) => JSON.parse(m.data));
    expect(vagas).toEqual([{ medicoId: cardio[0], inicio: at('08:00'), fim: at('08:30'), listaEsperaIds: [porMedico, porEspecialidade] }]);
    // The slot event itself keeps its contract payload.
    const livre = stream.messages.find((m) => m.event === 'horario_disponivel')!;
    expect(JSON.parse(livre.data)).toEqual({ medicoId: cardio[0], inicio: at('08:00'), fim: at('08:30'), estado: 'disponivel' });
    stream.close();
    await server.close();
  });

  it('when a consulta is moved away or a bloqueio removed, then its freed slots are offered to the waiting list', async () => {
    const { app, cardio, pacientes, add } = await front();
    const consulta = await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[2], inicio: at('08:00') }).expect(201);
    const bloqueio = await request(app).post(`/medicos/${cardio[0]}/bloqueios`).send({ inicio: at('14:00'), fim: at('15:00'), motivo: 'Congresso' }).expect(201);
    const id = (await add({ pacienteId: pacientes[0], medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY }).expect(201)).body.id;

    const server = await listen(app);
    const stream = await openStream(`${server.url}/sistema/agenda/stream`);
    await request(app).post(`/consultas/${consulta.body.id}/remarcar`).send({ inicio: at('11:00') }).expect(200);
    await request(app).delete(`/bloqueios/${bloqueio.body.id}`).expect(204);
    await stream.until(() => stream.messages.filter((m) => m.event === 'vaga_disponivel').length >= 3);
    const vagas = stream.messages.filter((m) => m.event === 'vaga_disponivel').map((m) => JSON.parse(m.data));
    expect(vagas).toEqual([
      { medicoId: cardio[0], inicio: at('08:00'), fim: at('08:30'), listaEsperaIds: [id] },
      { medicoId: cardio[0], inicio: at('14:00'), fim: at('14:30'), listaEsperaIds: [id] },
      { medicoId: cardio[0], inicio: at('14:30'), fim: at('15:00'), listaEsperaIds: [id] },
    ]);
    stream.close();
    await server.close();
  });

  it('when no entry matches the freed slot, or a booking fails and gives its reservation back, then no vaga_disponivel is sent', async () => {
    const { fs, control } = faultyFs('EIO');
    const { app, cardio, pacientes, add } = await front({ fs });
    const consulta = await agendar(app, { medicoId: cardio[1], pacienteId: pacientes[2], inicio: at('08:00') }).expect(201);
    await add({ pacienteId: pacientes[0], medicoId: cardio[0], de: NEXT_MONDAY, ate: NEXT_MONDAY }).expect(201);

    const server = await listen(app);
    const stream = await openStream(`${server.url}/sistema/agenda/stream`);
    // Freed, but nobody waits for médico 1.
    await request(app).post(`/consultas/${consulta.body.id}/cancelar`).send({}).expect(200);
    // A slot médico 0's entry would take, reserved and given back by a failed booking.
    control.failing = true;
    expect((await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[1], inicio: at('09:00') })).status).toBe(503);
    control.failing = false;
    // A last, successful booking: frames arrive in order, so once its events are here, any vaga_disponivel would be too.
    await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[1], inicio: at('10:00') }).expect(201);
    await stream.until(() => stream.messages.some((m) => m.event === 'horario_ocupado'));
    const slotEvents = stream.messages.map((m) => m.event).filter((e) => e.startsWith('horario_'));
    expect(slotEvents).toEqual(['horario_disponivel', 'horario_reservado', 'horario_disponivel', 'horario_reservado', 'horario_ocupado']);
    expect(stream.messages.some((m) => m.event === 'vaga_disponivel')).toBe(false);
    stream.close();
    await server.close();
  });
});

describe('GET /horarios-livres', () => {
  it('when two cardiologists have bookings, then the first free slots of both come sorted, skipping occupied and blocked ones, up to limit', async () => {
    const { app, container, cardio, pediatra, pacientes } = await front();
    await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[1], inicio: at('08:30') }).expect(201);
    await agendar(app, { medicoId: cardio[1], pacienteId: pacientes[2], inicio: at('08:00') }).expect(201);
    await request(app).post(`/medicos/${cardio[1]}/bloqueios`).send({ inicio: at('09:00'), fim: at('09:30'), motivo: 'Reunião' }).expect(201);

    const res = await request(app).get('/horarios-livres').query({ especialidade: 'cardiologia', de: NEXT_MONDAY, limit: 5 }).expect(200);
    const slot = (medicoId: string, inicio: string, fim: string, date = NEXT_MONDAY) => ({ medicoId, inicio: at(inicio, date), fim: at(fim, date) });
    // Same start: by médico id.
    const both = (inicio: string, fim: string) => [...cardio].sort().map((id) => slot(id, inicio, fim));
    expect(res.body.items).toEqual([
      slot(cardio[1], '08:30', '09:00'), // cardio[1] 08:00 is booked
      slot(cardio[0], '09:00', '09:30'), // cardio[0] 08:00 and 08:30 are booked; cardio[1] 09:00 is blocked
      ...both('09:30', '10:00'),
      both('10:00', '10:30')[0],
    ]);
    expect(res.body.items.every((s: { medicoId: string }) => s.medicoId !== pediatra)).toBe(true);

    // Default `de` is now (Monday 2026-11-30 12:00): the afternoon of today comes first; limit is honoured.
    const agora = await request(app).get('/horarios-livres').query({ medicoId: cardio[0], limit: 1 }).expect(200);
    expect(agora.body.items).toEqual([slot(cardio[0], '14:00', '14:30', '2026-11-30')]);

    // A médico user sees its own only.
    const medico = bearer((await signIn(container, 'medico', cardio[1])).token);
    const own = await request(app).get('/horarios-livres').query({ de: NEXT_MONDAY, limit: 3 }).set(medico).expect(200);
    expect(own.body.items.map((s: { medicoId: string }) => s.medicoId)).toEqual([cardio[1], cardio[1], cardio[1]]);
    expect((await request(app).get('/horarios-livres').query({ medicoId: cardio[0] }).set(medico)).status).toBe(403);

    expect((await request(app).get('/horarios-livres').query({ limit: 101 })).status).toBe(400);
    expect((await request(app).get('/horarios-livres').query({ medicoId: 'nao-existe' })).status).toBe(404);
  });

  it('when the agenda changes after a first answer, then the next answer follows it (nothing stale is offered)', async () => {
    const { app, container, cardio, pacientes } = await front();
    const first = async () => (await request(app).get('/horarios-livres').query({ medicoId: cardio[0], de: NEXT_MONDAY, limit: 1 }).expect(200)).body.items[0].inicio;
    expect(await first()).toBe(at('08:00'));
    const consulta = await agendar(app, { medicoId: cardio[0], pacienteId: pacientes[0], inicio: at('08:00') }).expect(201);
    expect(await first()).toBe(at('08:30'));
    await request(app).post(`/medicos/${cardio[0]}/bloqueios`).send({ inicio: at('08:30'), fim: at('09:00'), motivo: 'Reunião' }).expect(201);
    expect(await first()).toBe(at('09:00'));
    await request(app).post(`/consultas/${consulta.body.id}/cancelar`).send({}).expect(200);
    expect(await first()).toBe(at('08:00'));
    // Time passes: slots before now are no longer offered.
    (container.clock as ManualClock).set(new Date('2026-12-07T12:10:00Z')); // 09:10 in São Paulo
    expect(await first()).toBe(at('09:30'));
  });

  it('when no médico has a free slot, then the walk stops at the booking horizon with an empty list', async () => {
    const { app } = await makeApp({ env: { AGENDA_HORIZONTE_DIAS: '30' } });
    const semHorario = await request(app).post('/medicos').send(medicoBody({ horarios: [] })).expect(201);
    const res = await request(app).get('/horarios-livres').query({ especialidade: 'Cardiologia', limit: 100 }).expect(200);
    expect(res.body.items).toEqual([]);
    const medicoRes = await request(app).get('/horarios-livres').query({ medicoId: semHorario.body.id }).expect(200);
    expect(medicoRes.body.items).toEqual([]);
    // Outside the horizon: a Monday 40 days ahead is not offered.
    await request(app).put(`/medicos/${semHorario.body.id}`).send(medicoBody()).expect(200);
    const longe = await request(app).get('/horarios-livres').query({ de: '2027-01-11', limit: 100 }).expect(200);
    expect(longe.body.items).toEqual([]);
  });
});
