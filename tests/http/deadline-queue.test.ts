/**
 * Deadlines share one timer per deadline length (src/http/deadline.ts): requests in time and late
 * ones interleaved each get their own answer, a timer left for requests already answered serves the
 * next ones, and a route that sets its own handlerTimeout keeps it.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerDeadlines } from '../../src/http/deadline.js';
import { errorHandler } from '../../src/http/errors.js';

const D = { chargingMs: 100, provisioningMs: 300 };
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

async function app() {
  const a = Fastify();
  a.setErrorHandler(errorHandler);
  registerDeadlines(a, D);
  // The handler takes as long as the query says.
  a.post('/v1/events/:id', async (req) => {
    await sleep(Number((req.query as { ms: string }).ms));
    return { id: (req.params as { id: string }).id };
  });
  a.get('/v1/accounts/:id', { handlerTimeout: 50 }, async () => {
    await sleep(400);
    return { ok: true };
  });
  return a;
}

const post = (a: Awaited<ReturnType<typeof app>>, id: string, ms: number) =>
  a.inject({ method: 'POST', url: `/v1/events/${id}?ms=${ms}` });

describe('deadlines sharing a timer', () => {
  it('answers each of interleaved late and timely requests on its own', async () => {
    const a = await app();
    const answers = await Promise.all([
      post(a, 'a', 600),
      post(a, 'b', 1),
      post(a, 'c', 600),
      post(a, 'd', 1),
      post(a, 'e', 600),
    ]);
    expect(answers.map((r) => r.statusCode)).toEqual([503, 200, 503, 200, 503]);
    expect(answers[1]!.json()).toEqual({ id: 'b' });
    expect(answers[0]!.json()).toMatchObject({ cause: 'UNAVAILABLE' });
    await a.close();
  });

  it('still answers a late request after many timely ones and a quiet spell', async () => {
    const a = await app();
    for (let i = 0; i < 50; i++) expect((await post(a, `t${i}`, 0)).statusCode).toBe(200);
    await sleep(150); // the timer armed for the first of them has fired with nothing late
    expect((await post(a, 'late', 600)).statusCode).toBe(503);
    expect((await post(a, 'after', 0)).statusCode).toBe(200);
    await a.close();
  });

  it("keeps a route's own handlerTimeout", async () => {
    const a = await app();
    const r = await a.inject({ method: 'GET', url: '/v1/accounts/x' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ cause: 'UNAVAILABLE' });
    await a.close();
  });
});
