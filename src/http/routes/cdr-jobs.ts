/**
 * CDR files over HTTP (billing): upload a file (CSV or gzip, the body as is) to start an import job,
 * poll it, resume it after a failure. The file is kept under the data directory while it is imported.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CdrJobs } from '../../cdr/jobs.js';
import { CdrFileError } from '../../cdr/read.js';
import { AppError } from '../errors.js';
import { requireUtf8 } from '../json-body.js';

/** The most an upload may hold, decompressed, unless configured (CDR_UPLOAD_MAX_BYTES): 1 GiB. */
export const DEFAULT_UPLOAD_MAX_BYTES = 1 << 30;

function tooLarge(max: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `a CDR file may not hold more than ${max} bytes (decompressed)`);
}

/** Counts bytes on their way to disk and stops an upload past the limit (a gzip is not larger). */
function limit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > max ? tooLarge(max) : null, chunk);
    },
  });
}

/** Why a file handed over was refused, as an answer. */
function refusal(err: unknown, max: number): unknown {
  if (!(err instanceof CdrFileError)) return err;
  if (err.code === 'TOO_LARGE') return tooLarge(max);
  // The file name is the server's own: the caller is told about the content only.
  return new AppError('INVALID_REQUEST', err.message.replace(/^[^:]*\.cdr: /, 'the CDR file: '));
}

export function cdrJobRoutes(
  app: FastifyInstance,
  deps: { jobs: CdrJobs; uploadDir: string; maxUploadBytes?: number },
): void {
  const maxBytes = deps.maxUploadBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  app.addContentTypeParser(
    ['text/csv', 'application/gzip', 'application/octet-stream'],
    (req, payload, done) => {
      try {
        requireUtf8(req.headers['content-type'], 'a CDR file');
        done(null, payload);
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });

  r.post(
    '/v1/cdr/jobs',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: 'Upload a CDR file (text/csv or application/gzip) and import it in the background',
        tags: ['cdr'],
      },
    },
    async (req, reply) => {
      if (!req.body || typeof (req.body as Readable).pipe !== 'function')
        throw new AppError(
          'INVALID_REQUEST',
          'send the CDR file as the body, content-type text/csv or application/gzip',
        );
      await mkdir(deps.uploadDir, { recursive: true });
      const file = join(deps.uploadDir, `${randomUUID()}.cdr`);
      try {
        await pipeline(req.body as Readable, limit(maxBytes), createWriteStream(file));
        if ((await stat(file)).size === 0) throw new AppError('INVALID_REQUEST', 'the CDR file is empty');
        const job = await deps.jobs.start(req.principal.tenant, file, { maxBytes });
        reply.status(202);
        return job;
      } catch (err) {
        await unlink(file).catch(() => undefined);
        throw refusal(err, maxBytes);
      }
    },
  );

  r.get(
    '/v1/cdr/jobs/:id',
    {
      config: { roles: ['billing'] },
      schema: { summary: 'A CDR import job: status and counters', tags: ['cdr'], params: Params },
    },
    async (req) => {
      const job = await deps.jobs.get(req.principal.tenant, req.params.id);
      if (!job) throw new AppError('NOT_FOUND', 'no such CDR job');
      return job;
    },
  );

  r.post(
    '/v1/cdr/jobs/:id/resume',
    {
      config: { roles: ['billing'] },
      schema: {
        summary: 'Run a failed CDR job again (nothing is charged or stored twice)',
        tags: ['cdr'],
        params: Params,
      },
    },
    async (req) => {
      const job = await deps.jobs.resume(req.principal.tenant, req.params.id);
      if (!job) throw new AppError('NOT_FOUND', 'no such CDR job');
      return job;
    },
  );
}
