/**
 * How request bodies are read: JSON only in UTF-8, strict UTF-8, nested at most MAX_JSON_DEPTH
 * levels (checked on the text, before anything recurses), under the body limit. Other media types
 * have no parser and are refused 415 by fastify, which the error handler maps to the catalog.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_JSON_DEPTH, textDeeperThan } from '../charging/json-depth.js';
import { AppError } from './errors.js';

/** The largest JSON body (bytes); a charging request is well under 10 KiB. */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The charset parameter of a content type, lower case without quotes; undefined when absent. */
export function charsetOf(contentType: string | undefined): string | undefined {
  for (const param of (contentType ?? '').split(';').slice(1)) {
    const [name, value] = param.split('=', 2).map((s) => s.trim());
    if (name?.toLowerCase() === 'charset') return value?.replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

/**
 * Refuses a body declared in a charset other than UTF-8 (415): read as UTF-8 it would be misread.
 * No charset means UTF-8. `what` names the body in the answer ("JSON", "a CDR file").
 */
export function requireUtf8(contentType: string | undefined, what: string): void {
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `charset ${charset}: ${what} is read in UTF-8 only`);
}

function checkedText(req: FastifyRequest, body: Buffer): string {
  requireUtf8(req.headers['content-type'], 'JSON');
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new AppError('INVALID_REQUEST', 'the body is not valid UTF-8');
  }
  if (textDeeperThan(text, MAX_JSON_DEPTH))
    throw new AppError('INVALID_REQUEST', `JSON may nest objects and arrays at most ${MAX_JSON_DEPTH} deep`);
  return text;
}

export function registerJsonBody(app: FastifyInstance): void {
  // fastify's own parser (empty bodies, __proto__ and constructor poisoning refused) after our checks.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // No route reads plain text: refusing it 415 says more than "body must be object".
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: JSON_BODY_LIMIT_BYTES },
    (req, body, done) => {
      let text: string;
      try {
        text = checkedText(req, body as Buffer);
      } catch (err) {
        done(err as AppError, undefined);
        return;
      }
      void parseJson(req, text, done); // synchronous: it calls done itself
    },
  );
}
