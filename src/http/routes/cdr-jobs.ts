/**
 * CDR files over HTTP (billing): upload a file (CSV or gzip, the body as is) to start an import job,
 * poll it, resume it after a failure. The file is kept under the data directory while it is imported.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CdrJobs } from '../../cdr/jobs.js';
import { AppError } from '../errors.js';

const MAX_UPLOAD_BYTES = 4 * 1024 ** 3;

/** Counts bytes on their way to disk and stops an upload past the limit. */
function limit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(
        seen > max ? new AppError('INVALID_REQUEST', `a CDR file may not exceed ${max} bytes`) : null,
        chunk,
      );
    },
  });
}

export function cdrJobRoutes(app: FastifyInstance, deps: { jobs: CdrJobs; uploadDir: string }): void {
  app.addContentTypeParser(
    ['text/csv', 'application/gzip', 'application/octet-stream'],
    (_req, payload, done) => done(null, payload),
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
        await pipeline(req.body as Readable, limit(MAX_UPLOAD_BYTES), createWriteStream(file));
      } catch (err) {
        await unlink(file).catch(() => undefined);
        throw err;
      }
      reply.status(202);
      return deps.jobs.start(req.principal.tenant, file);
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
