/**
 * Would msgpack (msgpackr here, cmsgpack in Redis's Lua) pass a charging step's arguments to Redis
 * for fewer instructions than one ARGV string each? Two Redis functions read the same arguments of
 * a typical session step (a settle and a reserve: 44 values), every one: as ARGV (numbers through
 * tonumber, as step.lua reads them) and as one msgpack string unpacked by cmsgpack. Callgrind counts
 * the instructions Redis spends per call, as in redis-instructions.ts.
 *
 *   npx tsx bench/msgpack-args.ts [--calls 2000]
 *
 * Needs valgrind and redis-server on PATH.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '2000' }, port: { type: 'string', default: '6392' } },
});
const CALLS = Number(values.calls);
const port = Number(values.port);
const dir = mkdtempSync(join(tmpdir(), 'redis-mp-'));
const server = spawn(
  'valgrind',
  [
    '--tool=callgrind',
    `--callgrind-out-file=${dir}/cg.%p`,
    'redis-server',
    '--port',
    String(port),
    '--save',
    '',
  ],
  { stdio: 'ignore' },
);

function instructions(): number {
  execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('cg.'))
    .sort();
  const last = readFileSync(join(dir, files[files.length - 1]!), 'utf8');
  return Number((/^summary: (\d+)/m.exec(last) ?? /^totals: (\d+)/m.exec(last))![1]);
}

async function listening(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((ok) => {
      const c = net.connect({ port }, () => (c.end(), ok(true)));
      c.on('error', () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('redis-server under valgrind did not start');
}

/** What a session's update step sends after its keys: the common five, the step's ten, two ops, the service three. */
function stepArgs(i: number): (string | number)[] {
  const state = JSON.stringify({ v: 3, tor: 'voice', groups: { 100: { used: 95, quota: 120, holds: [] } } });
  const answer = JSON.stringify({
    sessionId: `v${i}`,
    resultCode: 2001,
    mscc: [{ ratingGroup: 100, granted: { time: 120 } }],
  });
  const op = (verb: string, res: string, expires: number | string, units: number, nano: number) => [
    verb,
    res,
    expires,
    'voice',
    units,
    nano,
    '9:442071234567',
    'call',
    100,
    '',
    '',
    '',
    '',
  ];
  return [
    `v${i}#1`,
    'f3a9c1e2d4b5a6978877665544332211ffeeddcc',
    1733550000000 + i,
    604800,
    `b${i % 100}`,
    2,
    'a:1',
    '',
    state,
    answer,
    `b${i % 100}`,
    'E164:447700000012',
    '',
    JSON.stringify({ at: 1733550000000, phase: 'update', used: [{ rg: 100, units: 95 }] }),
    2,
    ...op('settle', `v${i}#100#0`, '', 95_000_000_000, 47_500_000),
    ...op('reserve', `v${i}#100#1`, 1733550600000 + i, 120_000_000_000, 60_000_000),
    `acme\u0000v${i}`,
    1733550060000 + i,
    '',
  ];
}

// Both read every argument as step.lua would need it: numbers as numbers, strings as strings.
const LIBRARY = `#!lua name=mpbench
local NUMERIC = { [3] = true, [4] = true, [6] = true, [15] = true, [18] = true, [20] = true, [21] = true,
  [24] = true, [33] = true, [34] = true, [37] = true, [43] = true }
local function use(v) return v end
redis.register_function('args_argv', function(keys, argv)
  local n = 0
  for i = 1, #argv do
    local v = argv[i]
    if NUMERIC[i] then v = tonumber(v) end
    if use(v) then n = n + 1 end
  end
  return n
end)
redis.register_function('args_none', function(keys, argv) return 0 end)
redis.register_function('args_msgpack', function(keys, argv)
  local t = cmsgpack.unpack(argv[1])
  local n = 0
  for i = 1, #t do if use(t[i]) then n = n + 1 end end
  return n
end)
`;

await listening();
const redis = new Redis({ port });
try {
  await redis.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY);
  const args = Array.from({ length: CALLS }, (_, i) => stepArgs(i));
  const bytes = (a: (string | number)[]) => a.reduce<number>((s, v) => s + String(v).length, 0);
  console.log(
    `${args[0]!.length} arguments, ${bytes(args[0]!)} bytes as ARGV, ${pack(args[0]).length} as msgpack`,
  );
  const measure = async (what: string, run: (a: (string | number)[]) => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await run(args[i]!); // warm
    instructions();
    for (const a of args) await run(a);
    const perCall = Math.round(instructions() / CALLS);
    console.log(`${what}: ${perCall.toLocaleString('en')} instructions per call in Redis`);
    return perCall;
  };
  const none = await measure('no arguments (the call itself)', () => redis.fcall('args_none', 0));
  const argv = await measure('ARGV strings', (a) => redis.fcall('args_argv', 0, ...a));
  const packed = await measure('one msgpack argument', (a) => redis.fcall('args_msgpack', 0, pack(a)));
  const share = (n: number) => `${(n - none).toLocaleString('en')} for the arguments`;
  console.log(
    `ARGV ${share(argv)}, msgpack ${share(packed)}: ${(argv - packed).toLocaleString('en')} saved per step`,
  );
} finally {
  await redis.quit().catch(() => undefined);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
