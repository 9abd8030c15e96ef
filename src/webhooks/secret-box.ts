/**
 * Endpoint secrets at rest: AES-256-GCM under the engine's webhook key (WEBHOOK_SECRET_KEY, or the
 * dev key file, secret-key.ts). Stored as iv (12 bytes) | tag (16 bytes) | ciphertext; the endpoint
 * id is the additional data, so a secret copied onto another endpoint's row does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string, endpointId: string): Buffer;
  open(sealed: Buffer, endpointId: string): string;
}

export function secretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the webhook secret key must be 32 bytes');
  return {
    seal(plain, endpointId) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(endpointId));
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    open(sealed, endpointId) {
      const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(Buffer.from(endpointId));
      d.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
    },
  };
}
