/**
 * Writes done once per caller reference: the first answer is kept (document_requests) in the same
 * transaction as the write, so a retry gets it again; the same reference with another request is
 * a 409 CONFLICT. A refused request rolls back and is not remembered: a corrected retry may reuse
 * its reference. Two requests with one reference at once queue on an advisory lock.
 */
import type { PoolClient } from 'pg';
import { canonicalJson, documentHash } from '../core/document.js';
import { DocumentError } from './model.js';

export interface Answer {
  status: number;
  body: unknown;
  replayed: boolean;
}

export async function once(
  client: PoolClient,
  schema: string,
  tenant: string,
  reference: string,
  request: unknown,
  run: () => Promise<{ status: number; body: unknown }>,
): Promise<Answer> {
  // Through JSON first: parsed bodies and params may be objects without a prototype.
  const hash = documentHash(canonicalJson(JSON.parse(JSON.stringify(request))));
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
    `document-request:${tenant}:${reference}`,
  ]);
  const r = await client.query<{ hash: string; status: number; answer: unknown }>(
    `SELECT request_hash AS hash, status, answer FROM ${schema}.document_requests WHERE tenant = $1 AND reference = $2`,
    [tenant, reference],
  );
  const first = r.rows[0];
  if (first && first.hash !== hash)
    throw new DocumentError('CONFLICT', `reference ${reference} was used for another request`);
  if (first) return { status: first.status, body: first.answer, replayed: true };
  const out = await run();
  await client.query(
    `INSERT INTO ${schema}.document_requests (tenant, reference, request_hash, status, answer) VALUES ($1, $2, $3, $4, $5)`,
    [tenant, reference, hash, out.status, JSON.stringify(out.body)],
  );
  return { ...out, replayed: false };
}
