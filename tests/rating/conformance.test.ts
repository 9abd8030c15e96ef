/**
 * The CGRateS-derived conformance cases (tests/fixtures/conformance-cases.json): each case's
 * tariff is written out as a CGRateS CSV folder and as a native folder, loaded back through the
 * normal loader, and its event is rated through the CLI's own per-line path. Prices must equal
 * `expected.exact_cost` exactly (as decimals). Every case kind in the file is checked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rateLine } from '../../src/cli/rate-lines.js';
import { affordableUsage, type BalanceSnapshot } from '../../src/rating/affordable.js';
import {
  compileTariff,
  decimalToNano,
  formatScaled,
  parseDecimal,
  parseEvent,
  pow10,
  rateEvent,
  roundRational,
  type CompiledTariff,
  type RatingResult,
  type TariffPlan,
} from '../../src/rating/index.js';
import { loadTariffFolder } from '../../src/tariffs/load.js';
import {
  baseFactor,
  caseEventLine,
  caseToTariffPlan,
  loadConformanceCases,
  sameDecimal,
  type ConformanceCase,
} from '../support/conformance.js';
import { writeCgratesCsvFolder, writeNativeFolder } from '../support/tariff-writers.js';

const cases = loadConformanceCases();
const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((d) => rm(d, { recursive: true, force: true })));
});

const SOURCES = {
  'cgrates-csv': writeCgratesCsvFolder,
  native: writeNativeFolder,
} as const;

async function loadThrough(
  source: keyof typeof SOURCES,
  plan: TariffPlan,
  unit: string,
): Promise<CompiledTariff> {
  const dir = await mkdtemp(join(tmpdir(), `conformance-${source}-`));
  roots.push(dir);
  await SOURCES[source](plan, dir, { unit: unit === 'second' ? 'second' : 'unit' });
  const loaded = await loadTariffFolder(dir);
  expect(loaded.format).toBe(source);
  return compileTariff(loaded.plan);
}

const ERROR_CODES: Record<string, string> = {
  rating_plan_not_found: 'RATING_PLAN_NOT_FOUND',
  unauthorized_destination: 'UNAUTHORIZED_DESTINATION',
};

function expectCost(tariff: CompiledTariff, c: ConformanceCase, exact: string) {
  const out = rateLine(tariff, JSON.stringify({ ...caseEventLine(c), firstSegment: c.event.first_segment }));
  if ('error' in out) throw new Error(`${c.id}: ${out.error.code} ${out.error.message}`);
  expect(sameDecimal(out.cost, exact), `${c.id}: cost ${out.cost}, expected ${exact}`).toBe(true);
  return out;
}

function rated(tariff: CompiledTariff, c: ConformanceCase, usage: number): RatingResult {
  const ev = parseEvent({ ...caseEventLine(c), usage });
  if ('ok' in ev) throw new Error(ev.message);
  const r = rateEvent(tariff, ev);
  if (!r.ok) throw new Error(`${c.id}: ${r.code}`);
  return r;
}

function balancesOf(c: ConformanceCase): BalanceSnapshot[] {
  const f = BigInt(baseFactor(c.unit));
  return c.event.account.balances.map((b: ConformanceCase) => ({
    id: b.id,
    unit: b.type === 'monetary' ? 'money' : b.type,
    value: b.type === 'monetary' ? BigInt(decimalToNano(b.value)) : BigInt(b.value) * f,
    weight: b.weight ?? 0,
    destinations: b.destinations ?? [],
    blocker: b.blocker ?? false,
  }));
}

function moneyLeft(c: ConformanceCase, spentNum: bigint, spentDen: bigint): bigint {
  const initial = c.event.account.balances
    .filter((b: ConformanceCase) => b.type === 'monetary')
    .reduce((s: bigint, b: ConformanceCase) => s + BigInt(decimalToNano(b.value)), 0n);
  return initial * spentDen - spentNum; // nano, over spentDen
}

function nanoString(num: bigint, den: bigint): string {
  const r = roundRational(num, den * pow10(9), 12, 'middle');
  return formatScaled(r.value, r.scale);
}

function checkCase(tariffs: { before: CompiledTariff; after?: CompiledTariff }, c: ConformanceCase): void {
  const x = c.expected;
  switch (c.kind) {
    case 'cost': {
      const out = expectCost(tariffs.before, c, x.exact_cost);
      if (x.rated_usage !== undefined) expect(out.ratedUsage, `${c.id}: rated usage`).toBe(x.rated_usage);
      if (x.matched_destination !== undefined)
        expect(out.destination, `${c.id}: destination`).toBe(x.matched_destination);
      if (x.matched_prefix !== undefined) expect(out.matchedPrefix, `${c.id}: prefix`).toBe(x.matched_prefix);
      if (x.rating_plan !== undefined) expect(out.ratingPlan, `${c.id}: plan`).toBe(x.rating_plan);
      if (x.connect_fee !== undefined)
        expect(sameDecimal(out.connectFee, x.connect_fee), `${c.id}: connect fee`).toBe(true);
      if (x.spans !== undefined) expect(out.spans.length, `${c.id}: spans`).toBe(x.spans);
      return;
    }
    case 'error': {
      const out = rateLine(tariffs.before, JSON.stringify(caseEventLine(c)));
      expect('error' in out && out.error.code, c.id).toBe(ERROR_CODES[x.error]);
      return;
    }
    case 'rerate':
      expectCost(tariffs.before, c, x.exact_cost);
      expectCost(tariffs.after!, c, x.exact_cost_after_rerate);
      return;
    case 'max_usage': {
      const a = affordableUsage(rated(tariffs.before, c, c.event.usage), balancesOf(c), {
        allowNegative: c.event.account.allow_negative,
      });
      expect(a.usage / baseFactor(c.unit), `${c.id}: max usage`).toBe(x.max_usage);
      return;
    }
    case 'session':
      return checkSession(tariffs.before, c);
    default:
      throw new Error(`${c.id}: unknown case kind ${c.kind}`);
  }
}

/** Reserve at initiate (what the balances afford of the request), settle the used usage at terminate. */
function checkSession(tariff: CompiledTariff, c: ConformanceCase): void {
  const x = c.expected;
  const init = c.steps.find((s: ConformanceCase) => s.action === 'initiate');
  const term = c.steps.find((s: ConformanceCase) => s.action === 'terminate');
  const a = affordableUsage(rated(tariff, c, init.usage), balancesOf(c), {
    allowNegative: c.event.account.allow_negative,
  });
  const f = baseFactor(c.unit);
  if (x.granted_usage !== undefined) expect(a.usage / f, `${c.id}: granted`).toBe(x.granted_usage);
  const spent = (moves: typeof a.movements) => {
    let n = 0n;
    let d = 1n;
    for (const m of moves.filter((m) => balancesOf(c).find((b) => b.id === m.balanceId)?.unit === 'money')) {
      n = n * m.den + m.num * d;
      d *= m.den;
    }
    return [n, d] as const;
  };
  const [n1, d1] = spent(a.movements);
  const exactAfterInit = x.monetary_after_initiate_exact ?? x.monetary_after_initiate;
  if (exactAfterInit !== undefined) {
    expect(sameDecimal(nanoString(moneyLeft(c, n1, d1), d1), exactAfterInit), `${c.id}: after initiate`).toBe(
      true,
    );
  }
  if (term) {
    const final = rated(tariff, c, term.usage);
    if (x.final_cost !== undefined) {
      expect(
        sameDecimal(formatScaled(final.cost.value, final.cost.scale), x.final_cost),
        `${c.id}: final cost`,
      ).toBe(true);
    }
    if (x.monetary_after_terminate !== undefined) {
      const paid = affordableUsage(final, balancesOf(c), { allowNegative: c.event.account.allow_negative });
      const units = paid.movements.filter(
        (m) => balancesOf(c).find((b) => b.id === m.balanceId)?.unit !== 'money',
      );
      // Money pays the rounded final cost of what unit balances did not cover.
      const moneyNano =
        units.length === 0 ? final.costNano : spent(paid.movements)[0] / spent(paid.movements)[1];
      expect(
        sameDecimal(nanoString(moneyLeft(c, moneyNano, 1n), 1n), x.monetary_after_terminate),
        `${c.id}: after terminate`,
      ).toBe(true);
    }
  }
}

describe('conformance: rounding vectors', () => {
  for (const c of cases.filter((c) => c.kind === 'rounding')) {
    it.each(
      c.vectors as { value: string; decimals: number; method: 'up' | 'down' | 'middle'; expected: string }[],
    )(`${c.id}: round($value, $decimals, $method) = $expected`, (v) => {
      const d = parseDecimal(v.value);
      const r = roundRational(d.num, pow10(d.scale), v.decimals, v.method);
      expect(sameDecimal(formatScaled(r.value, r.scale), v.expected)).toBe(true);
    });
  }
});

for (const source of Object.keys(SOURCES) as (keyof typeof SOURCES)[]) {
  describe(`conformance through the ${source} importer`, () => {
    it.each(cases.filter((c) => c.kind !== 'rounding').map((c) => [c.id, c] as const))(
      '%s',
      async (_id, c) => {
        const before = await loadThrough(source, caseToTariffPlan(c.tariff, c.unit), c.unit);
        const after = c.tariff_after
          ? await loadThrough(source, caseToTariffPlan(c.tariff_after, c.unit), c.unit)
          : undefined;
        checkCase({ before, after }, c);
      },
    );
  });
}

describe('conformance straight from the model (no importer)', () => {
  it.each(cases.filter((c) => c.kind !== 'rounding').map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const before = compileTariff(caseToTariffPlan(c.tariff, c.unit));
    const after = c.tariff_after ? compileTariff(caseToTariffPlan(c.tariff_after, c.unit)) : undefined;
    checkCase({ before, after }, c);
  });
});
