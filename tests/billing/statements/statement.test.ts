/**
 * A statement's figures (pure): every movement is on exactly one line, the lines add up to the
 * totals, closing = opening + credits + debits to the nano, and the usage split by service always
 * adds up to the ledger's usage debit — on random movements past 2^53 nano.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupOf, statementFigures, type LedgerMove } from '../../../src/billing/statements/statement.js';

const KINDS = ['topup', 'refund', 'adjust', 'debit', 'commit', 'cdr', 'create', 'remove', 'late'];
const OPS = [
  'fee:a:1',
  'setup:a',
  'discount:a:1:X',
  'payment:r1',
  'credit-note:c',
  'invoice:i',
  'debit:r',
  'credit:r',
  'sess:s:1',
  'b1',
];
const big = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });
const move = fc.record({
  kind: fc.constantFrom(...KINDS),
  opId: fc.constantFrom(...OPS),
  deltaNano: big,
  paymentMethod: fc.constantFrom(null, 'card', 'voucher'),
});
const service = fc.record({
  tor: fc.constantFrom('voice', 'sms', 'data'),
  category: fc.constantFrom('call', 'sms', 'data'),
  chargedNano: big,
});
const sum = (xs: Partial<Record<string, bigint>>) => Object.values(xs).reduce<bigint>((t, v) => t + v!, 0n);

describe('statement figures', () => {
  it('closing = opening + movements, every group adds up, exactly (property)', () => {
    fc.assert(
      fc.property(
        big,
        fc.array(move, { maxLength: 60 }),
        fc.array(service, { maxLength: 8 }),
        (opening, moves, services) => {
          const f = statementFigures(opening, moves, services);
          const all = moves.reduce((t, m) => t + m.deltaNano, 0n);
          expect(f.closingNano).toBe(opening + all);
          expect(f.creditsNano + f.debitsNano).toBe(all);
          expect(sum(f.credits)).toBe(f.creditsNano);
          expect(sum(f.debits)).toBe(f.debitsNano);
          expect(f.usageByService.reduce((t, u) => t + u.chargedNano, 0n)).toBe(f.debits.usage ?? 0n);
          for (const v of Object.values(f.credits)) expect(v! >= 0n).toBe(true);
          for (const v of Object.values(f.debits)) expect(v! <= 0n).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('names each movement by who moved it and how', () => {
    const g = (kind: string, opId: string, d: bigint, paymentMethod: string | null = null) =>
      groupOf({ kind, opId, deltaNano: d, paymentMethod } as LedgerMove).group;
    expect(g('topup', 'credit:r', 500n)).toBe('topups');
    expect(g('topup', 'payment:r', 500n, 'card')).toBe('payments');
    expect(g('topup', 'payment:r', 500n, 'voucher')).toBe('vouchers');
    expect(g('refund', 'evt:1', 5n)).toBe('refunds');
    expect(g('topup', 'voucher:000123', 500n)).toBe('vouchers');
    expect(g('adjust', 'credit-note:x', 5n)).toBe('credit_notes');
    expect(g('debit', 'fee:a:2026-11-01', -5n)).toBe('fees');
    expect(g('debit', 'debit:r', -5n)).toBe('one_off');
    expect(g('cdr', 'batch-7', -5n)).toBe('usage');
    expect(g('commit', 'sess:1', -5n)).toBe('usage');
    expect(g('debit', 'invoice:i', -5n)).toBe('invoice_postings');
    expect(g('debit', 'payment:r', -5n)).toBe('payment_refunds');
  });

  it('splits usage by service from the rated rows, the rest on an "other" line', () => {
    const f = statementFigures(
      1000n,
      [{ kind: 'cdr', opId: 'b:', deltaNano: -700n }],
      [
        { tor: 'voice', category: 'call', chargedNano: 500n },
        { tor: 'sms', category: 'sms', chargedNano: 150n },
      ],
    );
    expect(f.usageByService).toEqual([
      { tor: 'sms', category: 'sms', chargedNano: -150n },
      { tor: 'voice', category: 'call', chargedNano: -500n },
      { tor: 'other', category: 'other', chargedNano: -50n },
    ]);
    expect(f.closingNano).toBe(300n);
  });
});
