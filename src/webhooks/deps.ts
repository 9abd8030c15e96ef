/** What the webhook routes and the deliverer are built from (src/main.ts wires them). */
import type { Pool } from 'pg';
import type { SecretBox } from './secret-box.js';
import type { Resolve, TargetPolicy } from './target.js';

export interface WebhookDeps {
  pool: Pool;
  schema: string;
  box: SecretBox;
  policy: TargetPolicy;
  /** How hosts are resolved when an endpoint is saved (tests give their own). */
  resolve?: Resolve;
}
