/**
 * Long work in the engine's process done in slices: between two, a turn of the event loop serves
 * what waits (charging requests, whose answers must not wait for a billing run's chunk).
 */

/** Lets the event loop serve what waits before going on. */
export const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** `fn` of each x, `per` at a time with a turn of the event loop between. */
export async function mapInTurns<T, R>(xs: T[], fn: (x: T) => R, per = 100): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += per) {
    if (i > 0) await nextTurn();
    for (const x of xs.slice(i, i + per)) out.push(fn(x));
  }
  return out;
}
