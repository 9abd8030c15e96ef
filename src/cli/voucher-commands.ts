/**
 * `cli vouchers generate | download | block | unblock`: entries of the one command table (commands.ts
 * spreads them in); their code (voucher-run.ts) loads when one runs. `usageError` is commands.ts's
 * UsageError, passed in so this file imports it only as a type.
 */
import type { BatchRequest } from '../vouchers/batches.js';
import type { Command, Values } from './commands.js';

const str = (v: Values, name: string) => (typeof v[name] === 'string' ? v[name] : undefined);
const tenantOf = (v: Values) => str(v, 'tenant') ?? 'acme';
const runner = () => import('./voucher-run.js');

export function voucherCommandTable(usageError: new (message: string) => Error): Command[] {
  const one = (args: string[], what: string) => {
    if (args.length !== 1) throw new usageError(`needs one ${what}`);
    return args[0]!;
  };
  const need = (v: Values, name: string) => {
    const s = str(v, name);
    if (s === undefined) throw new usageError(`--${name} is required`);
    return s;
  };
  const valueOf = (v: Values): BatchRequest['value'] => {
    const plan = str(v, 'plan');
    if (plan !== undefined) {
      const version = str(v, 'version');
      if (version !== undefined && !/^[1-9]\d{0,6}$/.test(version))
        throw new usageError('--version must be a whole number from 1');
      return { plan, ...(version ? { version: Number(version) } : {}) };
    }
    return { amount: need(v, 'amount'), currency: need(v, 'currency') };
  };
  const block = (blocked: boolean): Command => ({
    name: `vouchers ${blocked ? 'block' : 'unblock'}`,
    synopsis: `vouchers ${blocked ? 'block' : 'unblock'} BATCH_ID|SERIAL [--tenant T]`,
    help: `${blocked ? 'Blocks' : 'Unblocks'} a whole batch (by its id) or one voucher (by its serial); a redeemed
voucher stays as it is (refused). Prints the batch or the voucher as one JSON line.
  --tenant T            the tenant (default acme)`,
    options: { tenant: { type: 'string' } },
    positionals: true,
    run: async (v, args) => {
      const id = one(args, 'batch id or serial');
      return (await runner()).blockCommand(tenantOf(v), id, blocked);
    },
  });
  return [
    {
      name: 'vouchers generate',
      synopsis:
        'vouchers generate --reference R --count N (--amount A --currency C | --plan P [--version V]) --expires ISO [--valid-from ISO] [--tenant T]',
      help: `Makes a batch of vouchers once per --reference (the same again answers the batch; another body
is refused) and waits until it is generated. Prints the batch as one JSON line; then download its PINs.
  --reference R         the batch's idempotency reference
  --count N             1..1,000,000 vouchers
  --amount A --currency C   a money value (e.g. 10.00 GBP), or
  --plan P [--version V]    a plan of the catalog
  --expires ISO         when the vouchers expire
  --valid-from ISO      when they start to redeem (default now)
  --tenant T            the tenant (default acme)`,
      options: {
        reference: { type: 'string' },
        count: { type: 'string' },
        amount: { type: 'string' },
        currency: { type: 'string' },
        plan: { type: 'string' },
        version: { type: 'string' },
        expires: { type: 'string' },
        'valid-from': { type: 'string' },
        tenant: { type: 'string' },
      },
      run: async (v) => {
        const count = need(v, 'count');
        if (!/^\d{1,8}$/.test(count)) throw new usageError('--count must be a whole number');
        const req: BatchRequest = {
          reference: need(v, 'reference'),
          count: Number(count),
          value: valueOf(v),
          expiresAt: need(v, 'expires'),
          ...(str(v, 'valid-from') ? { validFrom: str(v, 'valid-from')! } : {}),
        };
        return (await runner()).generateCommand(tenantOf(v), req);
      },
    },
    {
      name: 'vouchers download',
      synopsis: 'vouchers download BATCH_ID --out FILE [--tenant T]',
      help: `Writes the batch's serial,pin CSV to FILE, once: the PINs then exist nowhere in the engine (a
second download is refused GONE). Keep the file safe. Prints {batchId, file, vouchers}.
  --out FILE            where the CSV goes (a new file, mode 0600; an existing one is refused)
  --tenant T            the tenant (default acme)`,
      options: { out: { type: 'string' }, tenant: { type: 'string' } },
      positionals: true,
      run: async (v, args) => {
        const batchId = one(args, 'batch id');
        const out = need(v, 'out');
        return (await runner()).downloadCommand(tenantOf(v), batchId, out);
      },
    },
    block(true),
    block(false),
  ];
}
