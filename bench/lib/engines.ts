/**
 * Several engines on one store, for the charging harness (`--engines N`, bench/charging-load.ts):
 * the harness's own Redis client, read from the environment as the engines read it (a Cluster when
 * REDIS_CLUSTER_NODES names one), a run's keys deleted on every master, and what a run cost: the
 * CPU time of every engine process (/proc) and of every Redis master (`INFO cpu`), and Redis's own
 * time in FCALL (`INFO commandstats`), per request. Those are the inputs of the scale-out projection
 * in bench/RESULTS.md.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../../src/infra/redis.js';

/** REDIS_CLUSTER_NODES=host:port,… (a Cluster) or REDIS_URL or 127.0.0.1:6379, auto-pipelined. */
export function benchRedis(env: NodeJS.ProcessEnv = process.env): RedisClient {
  const list = env.REDIS_CLUSTER_NODES?.trim();
  if (!list) return new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
  const nodes = list.split(',').map((n) => {
    const at = n.lastIndexOf(':');
    return { host: n.slice(0, at).trim(), port: Number(n.slice(at + 1)) };
  });
  return new Cluster(nodes, { enableAutoPipelining: true });
}

async function masters(redis: RedisClient): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  if (redis.status !== 'ready') await new Promise((ok) => redis.once('ready', ok));
  return redis.nodes('master');
}

/** Deletes every key under `prefix`, on every master (one slot per command on a Cluster). */
export async function deleteUnder(redis: RedisClient, prefix: string): Promise<void> {
  for (const node of await masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      await Promise.all(keys.map((k) => node.unlink(k)));
      cursor = next;
    } while (cursor !== '0');
  }
}

/** What the processes of a run had spent by a moment: CPU seconds, and Redis's FCALL time. */
export interface Cost {
  engineCpuS: number[];
  redisCpuS: number;
  fcallUsec: number;
  fcalls: number;
  masters: number;
  /** CPU seconds a second the engines and masters spend with no load (drains, sweeps, probes). */
  idle?: { engines: number; redis: number };
}

/** user + system CPU seconds of a process so far (Linux; clock ticks of 1/100 s). */
function processCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
}

function infoNumber(info: string, field: string): number {
  return Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? 0);
}

/** The cost so far of these engine processes and of every master. */
export async function cost(redis: RedisClient, engines: { pid?: number | undefined }[]): Promise<Cost> {
  const nodes = await masters(redis);
  const infos = await Promise.all(
    nodes.map(async (n) => [await n.info('cpu'), await n.info('commandstats')]),
  );
  let redisCpuS = 0;
  let fcallUsec = 0;
  let fcalls = 0;
  for (const [cpu, stats] of infos) {
    redisCpuS += infoNumber(cpu!, 'used_cpu_user') + infoNumber(cpu!, 'used_cpu_sys');
    const fcall = /cmdstat_fcall:calls=(\d+),usec=(\d+)/.exec(stats!);
    fcalls += Number(fcall?.[1] ?? 0);
    fcallUsec += Number(fcall?.[2] ?? 0);
  }
  return {
    engineCpuS: engines.map((e) => processCpuS(e.pid!)),
    redisCpuS,
    fcallUsec,
    fcalls,
    masters: nodes.length,
  };
}

/**
 * The cost so far, after watching the idle engines and masters for `ms`: at the few hundred
 * requests a second of a loaded box, what they spend anyway (drains every 100 ms, sweeps, the
 * Cluster's slot refreshes) would otherwise count as a large part of each request.
 */
export async function idleCost(
  redis: RedisClient,
  engines: { pid?: number | undefined }[],
  ms = 3000,
): Promise<Cost> {
  const a = await cost(redis, engines);
  await new Promise((ok) => setTimeout(ok, ms));
  const b = await cost(redis, engines);
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  const perS = (x: number) => x / (ms / 1000);
  return {
    ...b,
    idle: { engines: perS(sum(b.engineCpuS) - sum(a.engineCpuS)), redis: perS(b.redisCpuS - a.redisCpuS) },
  };
}

/**
 * One line: per request, the engines' CPU (all of them), every master's CPU and FCALL time, and
 * FCALLs per request. On a Redis other processes share (the 6379 of tests), Redis's figures include
 * their work: read them on a Redis of the benchmark's own.
 */
export function costLine(before: Cost, after: Cost, requests: number, seconds: number): string {
  const us = (s: number) => ((s * 1e6) / requests).toFixed(0);
  const engines = after.engineCpuS.map((s, i) => s - before.engineCpuS[i]!);
  // Less what they would have spent idle over the load's seconds (when measured: idleCost).
  const engineS = engines.reduce((a, b) => a + b, 0) - (before.idle?.engines ?? 0) * seconds;
  const redisS = after.redisCpuS - before.redisCpuS - (before.idle?.redis ?? 0) * seconds;
  const fcalls = after.fcalls - before.fcalls;
  return (
    `cost per request: engines ${us(engineS)} µs CPU (${engines.map((s) => (s / seconds).toFixed(2)).join(' + ')} cores), ` +
    `Redis ${us(redisS)} µs CPU over ${after.masters} master(s) (${(redisS / seconds).toFixed(2)} cores), ` +
    `Redis FCALL time ${us((after.fcallUsec - before.fcallUsec) / 1e6)} µs ` +
    `(${(fcalls / requests).toFixed(2)} calls)` +
    (before.idle
      ? `; idle spending taken off: engines ${before.idle.engines.toFixed(3)}, Redis ${before.idle.redis.toFixed(3)} cores`
      : '')
  );
}
