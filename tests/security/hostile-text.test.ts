import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { makeApp, pacienteBody } from '../helpers/app.js';
import { describeEachDriver } from '../helpers/drivers.js';
import { cpfFromNumber } from '../../src/schemas/paciente.schema.js';
import { agendar, at, clinic } from '../helpers/scheduling.js';

/**
 * Text that is SQL, escapes or wildcards, through the endpoints whose values the PostgreSQL driver writes into its
 * query text as literals (statements batched: `src/infra/storage/postgres/batching.ts`). Each must be stored and read
 * back as itself, match only itself in a search, and do nothing else.
 */
const HOSTILE = [
  "Robert'); DROP TABLE consultas; --",
  "O'Brien d'Ávila",
  'Barra \\ invertida \\\\ e \\x41 \\047',
  "E'\\'' OR ''='",
  'Cifrão $1 $$ corpo $$',
  'Curinga 100% _ [a-z]',
  'Emoji 💉 e ç ã õ',
];

describeEachDriver(() => {
  describe('hostile text reaches storage as text', () => {
    it('when names, notes and searches hold SQL, quotes, backslashes and wildcards, then each is stored and found as itself, and nothing else happens', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const ids: string[] = [];
      for (const [i, nome] of HOSTILE.entries()) {
        const res = await request(app).post('/pacientes').send(pacienteBody({ nome, cpf: cpfFromNumber(900 + i), email: null })).expect(201);
        expect(res.body.nome).toBe(nome.trim());
        ids.push(res.body.id);
        expect((await request(app).get(`/pacientes/${res.body.id}`).expect(200)).body.nome).toBe(nome.trim());
      }
      expect(ids).toHaveLength(HOSTILE.length);
      // A search for a piece of a hostile name finds that paciente and no other.
      const quoted = await request(app).get('/pacientes').query({ q: "'); DROP" }).expect(200);
      expect(quoted.body.items.map((p: { nome: string }) => p.nome)).toEqual([HOSTILE[0]]);
      const percent = await request(app).get('/pacientes').query({ q: '100%' }).expect(200);
      expect(percent.body.items.map((p: { nome: string }) => p.nome)).toEqual([HOSTILE[5]]);
      await request(app).get('/pacientes').query({ q: "' OR 1=1 --" }).expect(200).expect((r) => expect(r.body.total).toBe(0));
      // Bookings whose notes are hostile, made side by side (PostgreSQL: one shared transaction, one query string).
      const booked = await Promise.all(
        HOSTILE.map((observacoes, i) => agendar(app, { medicoId, pacienteId, inicio: at(`${String(8 + Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}`), observacoes })),
      );
      const created = booked.filter((r) => r.status === 201);
      expect(created).toHaveLength(HOSTILE.length);
      for (const res of created) {
        const back = await request(app).get(`/consultas/${res.body.id}`).expect(200);
        expect(HOSTILE).toContain(back.body.observacoes);
        expect(back.body.observacoes).toBe(res.body.observacoes);
      }
      // Nothing was dropped or altered: every consulta is there.
      const list = await request(app).get('/consultas').query({ pacienteId, limit: 50 }).expect(200);
      expect(list.body.total).toBe(HOSTILE.length);
    });

    it('when a search or a note holds a NUL, then 400 problem in pt-BR, never a 5xx', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const search = await request(app).get('/pacientes').query({ q: 'a\u0000b' });
      expect(search.status).toBe(400);
      expect(search.headers['content-type']).toMatch(/application\/problem\+json/);
      const booking = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), observacoes: 'nota\u0000oculta' });
      expect(booking.status).toBe(400);
      expect(booking.body.detail).toMatch(/[a-zà-ú]/i);
    });

    it('when a name or a note hides invisible characters (zero-width, separators, BOM, tags, fillers that draw nothing), then 400 naming the field, and nothing is stored', async () => {
      const { app } = await makeApp();
      const { medicoId, pacienteId } = await clinic(app);
      const before = (await request(app).get('/pacientes').expect(200)).body.total as number;
      const fillers = ['\u115F', '\u1160', '\u2800', '\u3164', '\uFFA0'];
      for (const hidden of ['\u200B', '\u200D', '\u2028', '\u2029', '\uFEFF', '\u00AD', '\u2060', '\u061C', '\u{E0041}', ...fillers]) {
        const res = await request(app).post('/pacientes').send(pacienteBody({ nome: `Joana${hidden} Prado` }));
        expect(res.status, JSON.stringify(hidden)).toBe(400);
        expect(res.body).toMatchObject({ type: '/problemas/validacao', errors: [{ path: 'nome', message: 'Caracteres de controle ou invisíveis não são permitidos.' }] });
        // In a note, the line and paragraph separators are line breaks (text pasted from a word processor).
        const note = await agendar(app, { medicoId, pacienteId, inicio: at('08:00'), observacoes: `ligar${hidden} depois` });
        if (hidden !== '\u2028' && hidden !== '\u2029') expect(note.status, JSON.stringify(hidden)).toBe(400);
        else await request(app).post(`/consultas/${note.body.id}/cancelar`).send({}).expect(200);
      }
      expect((await request(app).get('/pacientes').expect(200)).body.total).toBe(before);
      // A name of fillers alone would show as nothing at all.
      const blank = await request(app).post('/pacientes').send(pacienteBody({ nome: '\u3164\u3164\u3164' }));
      expect(blank.status).toBe(400);
      // Accents, emoji and dashes are text, not tricks; an emoji's variation selector (U+FE0F) is part of the emoji.
      await request(app).post('/pacientes').send(pacienteBody({ nome: 'Conceição D’Ávila — 🩺', cpf: cpfFromNumber(777_001) })).expect(201);
      const heart = await agendar(app, { medicoId, pacienteId, inicio: at('09:00'), observacoes: 'obrigada ❤\uFE0F' });
      expect(heart.status).toBe(201);
    });
  });
});
