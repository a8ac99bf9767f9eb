import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { bearer, makeApp, medicoBody, signIn } from '../helpers/app.js';
import { NEXT_MONDAY, agendar, at, clinic } from '../helpers/scheduling.js';

type App = Parameters<typeof request>[0];
const slotsOf = async (app: App, medicoId: string, data: string) =>
  (await request(app).get(`/medicos/${medicoId}/agenda`).query({ data }).expect(200)).body.slots as { inicio: string; estado: string; motivo?: string }[];

describe('bloqueios', () => {
  it('when a bloqueio is created, then its slots are bloqueado with the motivo and cannot be booked; removing it frees them and tells the stream', async () => {
    const { app, container } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const created = await request(app)
      .post(`/medicos/${medicoId}/bloqueios`)
      .send({ inicio: at('08:00'), fim: at('10:00'), motivo: 'Congresso' })
      .expect(201);
    expect(created.headers.location).toBe(`/bloqueios/${created.body.id}`);
    expect((await request(app).get(`/medicos/${medicoId}/bloqueios`).expect(200)).body.items).toHaveLength(1);
    const slots = await slotsOf(app, medicoId, NEXT_MONDAY);
    expect(slots.filter((s) => s.estado === 'bloqueado').map((s) => s.inicio)).toEqual([at('08:00'), at('08:30'), at('09:00'), at('09:30')]);
    expect(slots[0]).toMatchObject({ motivo: 'Congresso' });
    const refused = await agendar(app, { medicoId, pacienteId, inicio: at('09:00') });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toContain('Congresso');

    const freed: [string, number][] = [];
    container.services.bloqueios.onSlotsFreed((id, list) => freed.push([id, list.length]));
    const publish = vi.spyOn(container.agendaBroker, 'publish');
    await request(app).delete(`/bloqueios/${created.body.id}`).expect(204);
    expect(freed).toEqual([[medicoId, 4]]);
    expect(publish).toHaveBeenCalledWith('horario_disponivel', expect.objectContaining({ medicoId, inicio: at('08:00'), estado: 'disponivel' }), medicoId, expect.any(String));
    expect((await slotsOf(app, medicoId, NEXT_MONDAY)).every((s) => s.estado === 'disponivel')).toBe(true);
    await agendar(app, { medicoId, pacienteId, inicio: at('09:00') }).expect(201);
  });

  it('when a bloqueio, a holiday or working hours change, then the stream says agenda_alterada for that médico (or for all)', async () => {
    const { app, container } = await makeApp();
    const { medicoId, pacienteId } = await clinic(app);
    const publish = vi.spyOn(container.agendaBroker, 'publish');
    const altered = () => publish.mock.calls.filter(([event]) => event === 'agenda_alterada').map(([, data, topic]) => [data, topic]);

    const bloqueio = await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('08:00'), fim: at('10:00'), motivo: 'Congresso' }).expect(201);
    expect(altered()).toEqual([[{ medicoId }, medicoId]]);
    await request(app).delete(`/bloqueios/${bloqueio.body.id}`).expect(204);
    expect(altered()).toHaveLength(2);

    const feriado = await request(app).post('/feriados').send({ data: NEXT_MONDAY, nome: 'Aniversário da cidade' }).expect(201);
    expect(altered()[2]).toEqual([{}, undefined]); // every médico's agenda: sent to every client
    await request(app).delete(`/feriados/${feriado.body.id}`).expect(204);
    expect(altered()).toHaveLength(4);

    const medico = (await request(app).get(`/medicos/${medicoId}`).expect(200)).body;
    await request(app).put(`/medicos/${medicoId}`).send({ ...medicoBody(), crm: medico.crm, horarios: [{ diaSemana: 2, inicio: '08:00', fim: '12:00' }] }).expect(200);
    expect(altered()[4]).toEqual([{ medicoId }, medicoId]);
    // A booking is told by its own slot events, not by agenda_alterada.
    publish.mockClear();
    await agendar(app, { medicoId, pacienteId, inicio: at('08:00', '2027-01-05') }).expect(201);
    expect(altered()).toEqual([]);
  });

  it('when a bloqueio covers booked consultas, then 409 consultas-afetadas lists their ids', async () => {
    const { app } = await makeApp();
    const { medicoId, pacientes } = await clinic(app, { pacientes: 2 });
    const a = await agendar(app, { medicoId, pacienteId: pacientes[0], inicio: at('08:30') }).expect(201);
    const b = await agendar(app, { medicoId, pacienteId: pacientes[1], inicio: at('15:00') }).expect(201);
    const res = await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('08:00'), fim: at('16:00'), motivo: 'Cirurgia' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problemas/consultas-afetadas', detail: 'O bloqueio cobre 2 consultas agendadas; cancele ou remarque antes.' });
    expect([...res.body.consultas].sort()).toEqual([a.body.id, b.body.id].sort());
  });

  it('when inicio is not before fim, or motivo is missing, then 400', async () => {
    const { app } = await makeApp();
    const { medicoId } = await clinic(app);
    await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('10:00'), fim: at('09:00'), motivo: 'x' }).expect(400);
    await request(app).post(`/medicos/${medicoId}/bloqueios`).send({ inicio: at('08:00'), fim: at('09:00') }).expect(400);
  });

  it('when a médico user manages bloqueios, then only its own', async () => {
    const { app, rawApp, container } = await makeApp();
    const { medicos } = await clinic(app, { medicos: 2 });
    const { token } = await signIn(container, 'medico', medicos[0]);
    const body = { inicio: at('08:00'), fim: at('09:00'), motivo: 'Folga' };
    const own = await request(rawApp).post(`/medicos/${medicos[0]}/bloqueios`).set(bearer(token)).send(body).expect(201);
    await request(rawApp).post(`/medicos/${medicos[1]}/bloqueios`).set(bearer(token)).send(body).expect(403);
    const other = await request(app).post(`/medicos/${medicos[1]}/bloqueios`).send(body).expect(201);
    await request(rawApp).delete(`/bloqueios/${other.body.id}`).set(bearer(token)).expect(403);
    await request(rawApp).delete(`/bloqueios/${own.body.id}`).set(bearer(token)).expect(204);
  });
});

/** Known dates (Easter-based ones computed by hand): Sexta-feira Santa, Carnaval's Tuesday, Corpus Christi. */
const KNOWN: Record<number, [string, string, string]> = {
  2024: ['2024-03-29', '2024-02-13', '2024-05-30'],
  2025: ['2025-04-18', '2025-03-04', '2025-06-19'],
  2026: ['2026-04-03', '2026-02-17', '2026-06-04'],
  2027: ['2027-03-26', '2027-02-09', '2027-05-27'],
  2028: ['2028-04-14', '2028-02-29', '2028-06-15'],
  2029: ['2029-03-30', '2029-02-13', '2029-05-31'],
  2030: ['2030-04-19', '2030-03-05', '2030-06-20'],
};

describe('feriados', () => {
  it('when national holidays of 2024–2030 are listed, then fixed and Easter-based dates are right, and Carnaval and Corpus Christi are pontos facultativos', async () => {
    const { app } = await makeApp();
    for (const [ano, [santa, carnaval, corpus]] of Object.entries(KNOWN)) {
      const items = (await request(app).get('/feriados').query({ ano }).expect(200)).body.items as { data: string; nome: string; pontoFacultativo: boolean; tipo: string }[];
      const on = (data: string) => items.filter((f) => f.data === data);
      expect(on(santa)).toEqual([{ id: null, data: santa, nome: 'Sexta-feira Santa', tipo: 'nacional', pontoFacultativo: false }]);
      expect(on(carnaval)[0]).toMatchObject({ nome: 'Carnaval', pontoFacultativo: true });
      expect(on(corpus)[0]).toMatchObject({ nome: 'Corpus Christi', pontoFacultativo: true });
      for (const [md, nome] of [['01-01', 'Ano Novo'], ['04-21', 'Tiradentes'], ['09-07', 'Independência'], ['11-20', 'Consciência Negra'], ['12-25', 'Natal']]) {
        expect(on(`${ano}-${md}`)[0], `${ano}-${md}`).toMatchObject({ pontoFacultativo: false });
        expect(on(`${ano}-${md}`)[0]!.nome).toContain(nome);
      }
    }
    const carnaval2027 = (await request(app).get('/feriados').query({ ano: 2027 })).body.items.filter((f: { nome: string }) => f.nome === 'Carnaval');
    expect(carnaval2027.map((f: { data: string }) => f.data)).toEqual(['2027-02-08', '2027-02-09']);
  });

  it('when a national holiday falls on a working day, then its slots are bloqueado with its name; a ponto facultativo is not', async () => {
    const { app } = await makeApp();
    const m = await request(app).post('/medicos').send(medicoBody({ horarios: [0, 1, 2, 3, 4, 5, 6].map((d) => ({ diaSemana: d, inicio: '08:00', fim: '09:00' })) })).expect(201);
    const p = await request(app).post('/pacientes').send({ nome: 'João Lima', cpf: '52998224725', dataNascimento: '1990-05-12' }).expect(201);
    const natal = await slotsOf(app, m.body.id, '2026-12-25');
    expect(natal.map((s) => [s.estado, s.motivo])).toEqual([['bloqueado', 'Natal'], ['bloqueado', 'Natal']]);
    await agendar(app, { medicoId: m.body.id, pacienteId: p.body.id, inicio: at('08:00', '2026-12-25') }).expect(422);
    expect((await slotsOf(app, m.body.id, '2027-02-09')).every((s) => s.estado === 'disponivel')).toBe(true);
  });

  it('when the clinic adds its own holiday, then it is listed and blocks slots; deleting it frees them', async () => {
    const { app } = await makeApp();
    const { medicoId } = await clinic(app);
    const created = await request(app).post('/feriados').send({ data: NEXT_MONDAY, nome: 'Aniversário da cidade' }).expect(201);
    expect(created.body).toMatchObject({ data: NEXT_MONDAY, nome: 'Aniversário da cidade', tipo: 'clinica', pontoFacultativo: false });
    const listed = (await request(app).get('/feriados').query({ ano: 2026 })).body.items;
    expect(listed).toContainEqual(expect.objectContaining({ id: created.body.id, tipo: 'clinica' }));
    expect((await slotsOf(app, medicoId, NEXT_MONDAY)).every((s) => s.estado === 'bloqueado' && s.motivo === 'Aniversário da cidade')).toBe(true);
    await request(app).delete(`/feriados/${created.body.id}`).expect(204);
    expect((await slotsOf(app, medicoId, NEXT_MONDAY)).every((s) => s.estado === 'disponivel')).toBe(true);
    await request(app).delete(`/feriados/${created.body.id}`).expect(404);
  });

  it('when FERIADOS_NACIONAIS=false, then national holidays are neither listed nor blocking; CLINIC_UF adds state ones', async () => {
    const { app } = await makeApp({ env: { FERIADOS_NACIONAIS: 'false', CLINIC_UF: 'SP' } });
    const items = (await request(app).get('/feriados').query({ ano: 2027 })).body.items;
    expect(items.find((f: { nome: string }) => f.nome === 'Natal')).toBeUndefined();
    expect(items).toContainEqual({ id: null, data: '2027-07-09', nome: 'Revolução Constitucionalista', tipo: 'estadual', pontoFacultativo: false });
    const m = await request(app).post('/medicos').send(medicoBody({ horarios: [{ diaSemana: 5, inicio: '08:00', fim: '09:00' }] })).expect(201);
    expect((await slotsOf(app, m.body.id, '2026-12-25')).every((s) => s.estado === 'disponivel')).toBe(true);
  });
});
