/**
 * One delivery attempt: a POST of the event's JSON with the Standard Webhooks headers, answered within
 * `timeoutMs` or counted as no answer (status 0). Redirects are not followed (a 3xx is a failure). The
 * connection's address is checked as it is made (target.ts); keep-alive agents are reused across
 * attempts, so a busy endpoint costs no new handshakes.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress, TargetRefused, type TargetPolicy } from './target.js';

export interface Attempt {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface AttemptResult {
  status: number; // 0: no answer
  retryAfter?: string;
  error?: string;
}

/** The most of an answer's body read (and ignored): receivers are not our storage. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface Sender {
  send(a: Attempt): Promise<AttemptResult>;
  close(): void;
}

export function createSender(policy: TargetPolicy, timeoutMs: number, maxSockets = 64): Sender {
  const lookup = guardedLookup(policy);
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets, lookup }),
    'https:': new https.Agent({ keepAlive: true, maxSockets, lookup }),
  };
  function send(a: Attempt): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const url = new URL(a.url);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !policy.allowPrivate && isPrivateAddress(host))
        return resolve({ status: 0, error: `${host} is a private address` });
      const mod = url.protocol === 'https:' ? https : http;
      const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const req = mod.request(url, {
        method: 'POST',
        agent,
        headers: {
          ...a.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(a.body),
        },
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('response', (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const done = () => {
          clearTimeout(timer);
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, ...(retryAfter ? { retryAfter } : {}) });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        resolve({
          status: 0,
          error: err instanceof TargetRefused ? err.message : err.message || String(err),
        });
      });
      req.end(a.body);
    });
  }
  return {
    send,
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
