/**
 * The postpaid invoice posting (billing.md E.1 "Postpaid money model"): at finalization, one forced
 * balance operation `invoice:{id}` of total − Σ exact nano of the ledger-backed lines (the tax and
 * the rounding; usage, fees and one-offs already moved in Redis). Afterwards the account's money
 * balance carries the invoice's total exactly. Idempotent by its op id: a finalization rolled back
 * after the posting (or a rerun after a crash) replays it, the amount being the same.
 */
import type { PoolClient } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import type { DocumentHooks, FinalizedInvoice, IssuedCreditNote } from '../documents/model.js';
import { checkSchema } from './schema.js';

export class PostingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The finalize hook for these postpaid accounts (statements and prepaid accounts move no money). */
export function postpaidPosting(balances: BalanceStore, postpaid: Set<string>): DocumentHooks {
  return {
    async postBalance(_client, inv: FinalizedInvoice) {
      if (inv.documentType !== 'invoice' || !postpaid.has(inv.accountId)) return;
      const amount = inv.totalNano - inv.ledgerBackedNano;
      if (amount === 0n) return;
      const opId = `invoice:${inv.id}`;
      const r =
        amount > 0n
          ? await balances.debit(inv.tenant, inv.accountId, {
              opId,
              charge: { unit: 'generic', units: 0, amountNano: Number(amount) },
              force: true,
            })
          : await balances.credit(inv.tenant, inv.accountId, {
              opId,
              balanceId: await mainMoneyBalance(balances, inv),
              amount: Number(-amount),
              kind: 'adjust',
            });
      if (r.code !== 'OK') throw new PostingError(r.code, `posting ${opId}: ${r.code}`);
    },
  };
}

/** The account's first money balance (the one a negative posting — rounding down — credits). */
async function mainMoneyBalance(balances: BalanceStore, inv: FinalizedInvoice): Promise<string> {
  const view = await balances.getAccount(inv.tenant, inv.accountId);
  const money = view?.balances.find((b) => b.unit === 'money');
  if (!money) throw new PostingError('BALANCE_NOT_FOUND', `account ${inv.accountId} has no money balance`);
  return money.id;
}

/**
 * The hooks for documents finalized, voided or credited through the API (not by a run): the account
 * type is read in the document's transaction. A credit note that reduces what is due or credits the
 * account gives its total back to the main money balance (op id `credit-note:{id}`).
 */
export function documentHooks(balances: BalanceStore, schema: string): DocumentHooks {
  const postpaidOf = async (client: PoolClient, tenant: string, accountId: string) => {
    const r = await client.query<{ t: string }>(
      `SELECT account_type AS t FROM ${checkSchema(schema)}.billing_accounts WHERE tenant = $1 AND account_id = $2`,
      [tenant, accountId],
    );
    return r.rows[0]?.t === 'postpaid';
  };
  return {
    async postBalance(client, inv) {
      if (!(await postpaidOf(client, inv.tenant, inv.accountId))) return;
      await postpaidPosting(balances, new Set([inv.accountId])).postBalance!(client, inv);
    },
    async postCredit(client, note: IssuedCreditNote) {
      if (note.effect === 'refund_record' || note.totalNano <= 0n) return;
      if (!(await postpaidOf(client, note.tenant, note.accountId))) return;
      const inv = { tenant: note.tenant, accountId: note.accountId } as FinalizedInvoice;
      const r = await balances.credit(note.tenant, note.accountId, {
        opId: `credit-note:${note.id}`,
        balanceId: await mainMoneyBalance(balances, inv),
        amount: Number(note.totalNano),
        kind: 'adjust',
      });
      if (r.code !== 'OK') throw new PostingError(r.code, `credit-note:${note.id}: ${r.code}`);
    },
  };
}
