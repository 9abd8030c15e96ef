/**
 * The money for the part of a charge that unit balances did not cover: the rated price of all
 * `units` is `amountNano`, so `part` of them costs amountNano x part / units, rounded up to the
 * nano (never in the subscriber's favour by more than 1 nano). Exact, with BigInt: Lua's doubles
 * cannot hold the product, which is why the debit script asks the caller for this number.
 */
export function proRata(amountNano: number, part: number, units: number): number {
  if (part === units || units === 0) return amountNano;
  if (part === 0) return 0;
  const n = BigInt(amountNano) * BigInt(part);
  const d = BigInt(units);
  return Number((n + d - 1n) / d);
}
