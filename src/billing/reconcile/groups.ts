/**
 * Shared groups (check.ts rule 3): a group's balances in Redis against the group's ledger — the
 * deltas its members' operations made to them (the ledger names the member, not the group, so
 * members are found by asking Redis each ledger account's group) — and what the group paid for its
 * members, which rule 2 of each postpaid member holds against that member's documents.
 */
import type { Pool } from 'pg';
import type { BalanceStore } from '../../balances/store.js';
import { ledgerDifferences, type Difference } from './check.js';
import { groupMoves, type GroupMoves } from './read.js';
import { balancesOf, undrained } from './redis.js';

export interface GroupReport {
  group: string;
  /** Accounts of the group: those checked, and those whose operations moved its balances. */
  members: string[];
  ok: boolean;
  /** Σ money the group's balances paid for its members (not moved by hand), decimal nano (≤ 0). */
  paidForMembersNano: string;
  differences: Difference[];
}

/** Each ledger account's shared group (null: none, or gone from Redis), asked once each. */
async function groupsOf(b: BalanceStore, tenant: string, ids: string[]): Promise<Map<string, string | null>> {
  const infos = await Promise.all(ids.map((id) => b.accountInfo(tenant, id)));
  return new Map(ids.map((id, i) => [id, infos[i]?.sharedGroup ?? null]));
}

/** The ledger sums of one group's balances over its members' moves. */
function groupLedger(moves: GroupMoves[]) {
  const by = new Map<string, { balanceId: string; unit: string; nano: bigint }>();
  for (const m of moves) {
    const seen = by.get(m.balanceId);
    if (seen) seen.nano += m.nano;
    else by.set(m.balanceId, { balanceId: m.balanceId, unit: m.unit, nano: m.nano });
  }
  return [...by.values()];
}

/** The reports of these groups, each given one member checked (for its Redis view). */
export async function reconcileGroups(
  deps: { pool: Pool; schema: string; balances: BalanceStore },
  tenant: string,
  groups: Map<string, string[]>,
): Promise<GroupReport[]> {
  if (groups.size === 0) return [];
  const moves = await groupMoves(deps.pool, deps.schema, tenant);
  const owners = await groupsOf(deps.balances, tenant, [...new Set(moves.map((m) => m.accountId))]);
  const reports: GroupReport[] = [];
  for (const [group, checked] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const own = moves.filter((m) => owners.get(m.accountId) === group);
    const members = [...new Set([...checked, ...own.map((m) => m.accountId)])].sort();
    const view = await deps.balances.getAccount(tenant, checked[0]!);
    const redis = view ? balancesOf(view, 'g') : [];
    const behind = await undrained(deps.balances, tenant, checked[0]!);
    const differences = ledgerDifferences(redis, groupLedger(own), behind, 'group');
    const paid = own.reduce((t, m) => t + m.paidNano, 0n);
    reports.push({
      group,
      members,
      ok: differences.length === 0,
      paidForMembersNano: String(paid),
      differences,
    });
  }
  return reports;
}
