/**
 * Standard Webhooks 1.0 signatures: `webhook-signature` holds `v1,<base64 HMAC-SHA256>` of
 * `{webhook-id}.{webhook-timestamp}.{body}`, keyed by the secret's bytes (the base64 after `whsec_`).
 * Several signatures, separated by spaces, while a rotated secret is still honoured: a receiver
 * accepts the message if any one verifies. Pure: no clock, no I/O.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new secret: 24 random bytes, as Svix issues them. */
export const newSecret = (): string => `${PREFIX}${randomBytes(24).toString('base64')}`;

const keyOf = (secret: string): Buffer =>
  Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** The header for every secret that signs now (the current one first). */
export function signatureHeader(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' ');
}

/** What a receiver does (docs/EVENTS.md shows the same in a few lines): any listed signature matches. */
export function verify(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
  header: string,
): boolean {
  const want = Buffer.from(sign(secret, id, timestampSeconds, body));
  return header.split(' ').some((candidate) => {
    const got = Buffer.from(candidate);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
