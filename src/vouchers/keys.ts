/**
 * The voucher keys, derived from the engine's sealing key (WEBHOOK_SECRET_KEY or its dev key file,
 * src/webhooks/secret-key.ts) so an operator keeps one secret, yet each use has its own key: a PIN
 * hash never doubles as an endpoint secret's key. Several engines derive the same keys from the same
 * secret; a changed secret makes every PIN of the old one unredeemable (by design: rotate with care).
 */
import { createHmac } from 'node:crypto';
import { secretBox, type SecretBox } from '../webhooks/secret-box.js';

export interface VoucherKeys {
  /** HMAC-SHA256 key of `tenant|pin` (the only form of a PIN PostgreSQL holds). */
  pinKey: Buffer;
  /** Seals a batch's PIN seed until its one download. */
  seedBox: SecretBox;
}

const derive = (master: Buffer, use: string) => createHmac('sha256', master).update(use).digest();

export function voucherKeys(master: Buffer): VoucherKeys {
  return {
    pinKey: derive(master, 'ocs/vouchers/pin-hash/v1'),
    seedBox: secretBox(derive(master, 'ocs/vouchers/seed-seal/v1')),
  };
}

export function pinHash(pinKey: Buffer, tenant: string, pin: string): Buffer {
  return createHmac('sha256', pinKey).update(`${tenant}|${pin}`).digest();
}
