/**
 * Configuration from the environment, checked eagerly: a wrong value stops the engine at start with
 * a message that names the variable. Pure: takes the environment as an argument.
 */
/**
 * network: charging requests; billing: a tenant's accounts, money and CDR files; selfcare: one
 * account; operator: what every tenant shares (the tariff folder).
 */
export type Role = 'network' | 'billing' | 'selfcare' | 'operator';

export interface ApiKey {
  key: string;
  role: Role;
  tenant: string;
  /** selfcare keys only: the one account the caller may read. */
  accountId?: string;
  name?: string;
}

export interface Config {
  port: number;
  host: string;
  /** Unset: use 127.0.0.1:6379 if it answers, else start a private redis-server. */
  redisUrl: string | undefined;
  /** A Redis Cluster (REDIS_CLUSTER_NODES or a redis+cluster:// REDIS_URL); redisUrl is then unset. */
  redisCluster: RedisClusterConfig | undefined;
  /** Unset: use 127.0.0.1:5432 if it answers, else start an embedded PostgreSQL. */
  databaseUrl: string | undefined;
  tariffDir: string;
  /** The zone for CGRateS tariff folders (native tariffs name their own). */
  tariffTimezone: string | undefined;
  dataDir: string;
  logLevel: string;
  apiKeys: ApiKey[];
  /** True when no keys were configured and the documented demo keys are in use. */
  demoKeys: boolean;
  keyPrefix: string;
  /** The PostgreSQL schema of the engine's tables. */
  dbSchema: string;
  maxInFlight: number;
  /** Where data sessions are redirected on their final units, e.g. https://topup.example/?msisdn={msisdn}. */
  topUpUrl: string | undefined;
  /** CDR files are rated, charged and stored in chunks of about this many KiB (a batch each). */
  cdrChunkKiB: number;
  /** A CDR line longer than this is a reject (LINE_TOO_LONG); the header may not be. */
  cdrMaxLineBytes: number;
  /** The most a CDR upload may hold once decompressed: a larger one is refused (413). */
  cdrUploadMaxBytes: number;
  /** Charging and pricing requests not answered by then are answered 503 UNAVAILABLE. */
  requestDeadlineMs: number;
  /** The same for every other API request (provisioning, reads, CDR job status); uploads have none. */
  provisioningDeadlineMs: number;
  /** A Redis command not answered by then fails (a hung server never holds a caller for longer). */
  redisCommandTimeoutMs: number;
  /**
   * Provisioning writes (money coming in) are acknowledged once this many replicas of their master
   * have them (at most those it has), waiting up to timeoutMs; else 503 (docs/SCALE-OUT.md).
   */
  redisWait: { replicas: number; timeoutMs: number };
  /** Where a Redis already running is looked for when REDIS_URL is unset; 0: start a private one. */
  localRedisPort: number;
  /** Where a PostgreSQL already running is looked for when DATABASE_URL is unset; 0: start the embedded one. */
  localPostgresPort: number;
  /** The port of the embedded PostgreSQL. */
  embeddedPostgresPort: number;
  /** Billing runs: the scheduler's period (BILLING_RUN_EVERY seconds, 0 = off), accounts per chunk, zero invoices. */
  /** `thread`: runs in a worker thread of their own (BILLING_RUN_THREAD, default true), off the thread that answers charging. */
  billing: { runEverySeconds: number; chunk: number; zeroInvoices: boolean; thread: boolean };
  /**
   * Webhooks (docs/EVENTS.md): the key sealing endpoint secrets (WEBHOOK_SECRET_KEY; else a dev key
   * in DATA_DIR), http:// and private targets (off unless WEBHOOK_ALLOW_HTTP / WEBHOOK_ALLOW_PRIVATE),
   * the answer time per attempt.
   */
  webhooks: { secretKey: string | undefined; allowHttp: boolean; allowPrivate: boolean; timeoutMs: number };
  /**
   * CGRateS's JSON-RPC API at POST /jsonrpc (docs/CGRATES-COMPAT.md): off unless CGRATES_API=on;
   * CGRATES_CURRENCY for the accounts SetAccount creates, CGRATES_DECIMALS=string for money as strings,
   * CGRATES_TCP_PORT for the plain TCP listener (off unless set); TARIFF_FOLDER_ROOT the only folder
   * APIerSv1.LoadTariffPlanFromFolder loads from, or under (default `tariffs`).
   */
  cgrates:
    | { currency: string; decimalsAsStrings: boolean; tcpPort?: number; tcpHost?: string; tariffRoot: string }
    | undefined;
}

/** Where a Redis Cluster is reached: some of its nodes (the client learns the rest), auth and TLS. */
export interface RedisClusterConfig {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

export class ConfigError extends Error {}

export const DEMO_KEYS: ApiKey[] = [
  { key: 'demo-billing', role: 'billing', tenant: 'acme', name: 'demo billing staff' },
  { key: 'demo-network', role: 'network', tenant: 'acme', name: 'demo network element' },
  { key: 'demo-operator', role: 'operator', tenant: 'acme', name: 'demo operator (the shared tariff)' },
  {
    key: 'demo-selfcare-alice',
    role: 'selfcare',
    tenant: 'acme',
    accountId: 'alice',
    name: 'demo customer alice',
  },
];

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be a whole number in ${min}..${max}, got "${raw}"`);
  return n;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name] ?? '';
  if (!['', '0', '1', 'true', 'false'].includes(raw))
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === '1' || raw === 'true';
}

function parseKeys(raw: string, source: string): ApiKey[] {
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${source} must be JSON: [{"key","role","tenant","accountId"?}]`);
  }
  if (!Array.isArray(list)) throw new ConfigError(`${source} must be a JSON list`);
  return list.map((k: Record<string, unknown>, i) => {
    const where = `${source}[${i}]`;
    if (typeof k.key !== 'string' || k.key.length < 8)
      throw new ConfigError(`${where}.key must be a string of 8+ characters`);
    if (!['network', 'billing', 'selfcare', 'operator'].includes(k.role as string))
      throw new ConfigError(`${where}.role must be network, billing, selfcare or operator`);
    if (typeof k.tenant !== 'string' || !k.tenant) throw new ConfigError(`${where}.tenant is required`);
    if (k.role === 'selfcare' && typeof k.accountId !== 'string')
      throw new ConfigError(`${where}.accountId is required for selfcare keys`);
    return {
      key: k.key,
      role: k.role as Role,
      tenant: k.tenant,
      ...(typeof k.accountId === 'string' ? { accountId: k.accountId } : {}),
      ...(typeof k.name === 'string' ? { name: k.name } : {}),
    };
  });
}

function schemaName(s: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(s))
    throw new ConfigError(`DB_SCHEMA must be a lower-case SQL name, got "${s}"`);
  return s;
}

function clusterNode(raw: string, source: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:,/@\s]+):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new ConfigError(`${source} must list host:port entries separated by commas, got "${raw}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `redis+cluster://[user:password@]host:port[,host:port…]`; `rediss+cluster://` for TLS. */
function clusterUrl(url: string): RedisClusterConfig {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m)
    throw new ConfigError(
      'REDIS_URL must look like redis+cluster://[user:password@]host:port[,host:port…] (rediss+cluster:// for TLS)',
    );
  const [user, password] = m[2] ? m[2].split(/:(.*)/s, 2).map(decodeURIComponent) : [];
  return {
    nodes: m[3]!.split(',').map((n) => clusterNode(n, 'REDIS_URL')),
    ...(user ? { username: user } : {}),
    ...(password ? { password } : {}),
    tls: m[1] === 'rediss',
  };
}

/**
 * The Cluster, if one is named: REDIS_CLUSTER_NODES=host:port,… (with REDIS_USERNAME,
 * REDIS_PASSWORD, REDIS_TLS=1) or REDIS_URL=redis+cluster://…; one form, not both.
 */
function redisCluster(env: NodeJS.ProcessEnv): RedisClusterConfig | undefined {
  const url = env.REDIS_URL ?? '';
  const fromUrl = /^rediss?\+cluster:/.test(url);
  const list = env.REDIS_CLUSTER_NODES?.trim();
  if (fromUrl && list)
    throw new ConfigError('set REDIS_CLUSTER_NODES or a redis+cluster:// REDIS_URL, not both');
  if (fromUrl) return clusterUrl(url);
  if (!list) return undefined;
  if (url) throw new ConfigError('REDIS_URL names one Redis and REDIS_CLUSTER_NODES a Cluster: set one');
  const tls = env.REDIS_TLS ?? '';
  if (!['', '0', '1', 'true', 'false'].includes(tls))
    throw new ConfigError(`REDIS_TLS must be 1 or 0, got "${tls}"`);
  return {
    nodes: list.split(',').map((n) => clusterNode(n, 'REDIS_CLUSTER_NODES')),
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
    tls: tls === '1' || tls === 'true',
  };
}

/**
 * A WAIT must end before the command timeout cuts it short (a 503 that could have been a 200):
 * by default a second, or half the command timeout if that is shorter.
 */
function redisWait(env: NodeJS.ProcessEnv): Config['redisWait'] {
  const commandMs = int(env, 'REDIS_COMMAND_TIMEOUT_MS', 5000, 50, 600_000);
  const timeoutMs = int(env, 'REDIS_WAIT_TIMEOUT_MS', Math.min(1000, Math.floor(commandMs / 2)), 1, 60_000);
  if (timeoutMs >= commandMs)
    throw new ConfigError(
      `REDIS_WAIT_TIMEOUT_MS (${timeoutMs}) must be below REDIS_COMMAND_TIMEOUT_MS (${commandMs})`,
    );
  return { replicas: int(env, 'REDIS_WAIT_REPLICAS', 1, 0, 16), timeoutMs };
}

export function loadConfig(env: NodeJS.ProcessEnv, readFile: (path: string) => string = () => ''): Config {
  const keysRaw = env.API_KEYS ?? (env.API_KEYS_FILE ? readFile(env.API_KEYS_FILE) : undefined);
  const apiKeys = keysRaw ? parseKeys(keysRaw, env.API_KEYS ? 'API_KEYS' : 'API_KEYS_FILE') : DEMO_KEYS;
  const host = env.HOST ?? '127.0.0.1';
  if (!keysRaw && host !== '127.0.0.1' && host !== 'localhost') {
    throw new ConfigError(
      'API_KEYS (or API_KEYS_FILE) must be set when HOST is not 127.0.0.1: the demo keys are public',
    );
  }
  const cluster = redisCluster(env);
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    host,
    redisUrl: cluster ? undefined : env.REDIS_URL || undefined,
    redisCluster: cluster,
    databaseUrl: env.DATABASE_URL || undefined,
    tariffDir: env.TARIFF_DIR ?? 'tariffs/sample',
    tariffTimezone: env.TARIFF_TIMEZONE || undefined,
    dataDir: env.DATA_DIR ?? 'var',
    logLevel: env.LOG_LEVEL ?? 'info',
    apiKeys,
    demoKeys: !keysRaw,
    keyPrefix: env.KEY_PREFIX ?? 'ocs:',
    dbSchema: schemaName(env.DB_SCHEMA ?? 'ocs'),
    maxInFlight: int(env, 'MAX_IN_FLIGHT', 2000, 1, 1_000_000),
    topUpUrl: env.TOPUP_URL || undefined,
    cdrChunkKiB: int(env, 'CDR_CHUNK_KIB', 4096, 1, 65_536),
    billing: {
      runEverySeconds: int(env, 'BILLING_RUN_EVERY', 3600, 0, 31_536_000),
      chunk: int(env, 'BILLING_CHUNK', 1000, 1, 100_000),
      zeroInvoices: env.BILLING_ZERO_INVOICES === 'true',
      thread: (env.BILLING_RUN_THREAD ?? '') === '' || flag(env, 'BILLING_RUN_THREAD'),
    },
    webhooks: {
      secretKey: env.WEBHOOK_SECRET_KEY || undefined,
      allowHttp: flag(env, 'WEBHOOK_ALLOW_HTTP'),
      allowPrivate: flag(env, 'WEBHOOK_ALLOW_PRIVATE'),
      timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    },
    cdrMaxLineBytes: int(env, 'CDR_MAX_LINE_BYTES', 65_536, 1024, 16 << 20),
    cdrUploadMaxBytes: int(env, 'CDR_UPLOAD_MAX_BYTES', 1 << 30, 1, 2 ** 50),
    requestDeadlineMs: int(env, 'REQUEST_DEADLINE_MS', 1000, 50, 60_000),
    provisioningDeadlineMs: int(env, 'PROVISIONING_DEADLINE_MS', 5000, 50, 600_000),
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', 5000, 50, 600_000),
    redisWait: redisWait(env),
    localRedisPort: int(env, 'LOCAL_REDIS_PORT', 6379, 0, 65535),
    localPostgresPort: int(env, 'LOCAL_POSTGRES_PORT', 5432, 0, 65535),
    embeddedPostgresPort: int(env, 'EMBEDDED_POSTGRES_PORT', 5441, 1, 65535),
    cgrates: cgratesApi(env, host),
  };
}

function cgratesApi(env: NodeJS.ProcessEnv, host: string): Config['cgrates'] {
  const on = env.CGRATES_API ?? 'off';
  if (on !== 'on' && on !== 'off') throw new ConfigError(`CGRATES_API must be on or off, got "${on}"`);
  const currency = env.CGRATES_CURRENCY ?? 'EUR';
  if (!/^[A-Z]{3}$/.test(currency))
    throw new ConfigError(`CGRATES_CURRENCY must be an ISO 4217 code, got "${currency}"`);
  const decimals = env.CGRATES_DECIMALS ?? 'number';
  if (decimals !== 'number' && decimals !== 'string')
    throw new ConfigError(`CGRATES_DECIMALS must be number or string, got "${decimals}"`);
  // The plain TCP listener (Go net/rpc/jsonrpc), off unless a port is given; on the engine's HOST.
  const tcp = env.CGRATES_TCP_PORT ? int(env, 'CGRATES_TCP_PORT', 0, 1, 65535) : undefined;
  if (on !== 'on') return undefined;
  return {
    currency,
    decimalsAsStrings: decimals === 'string',
    ...(tcp ? { tcpPort: tcp, tcpHost: host } : {}),
    tariffRoot: env.TARIFF_FOLDER_ROOT || 'tariffs',
  };
}
