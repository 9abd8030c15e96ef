/** How a Redis Cluster is named in configuration: both forms, auth and TLS, and what is refused. */
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { clusterOptions } from '../../src/infra/redis.js';
import { isUnavailable } from '../../src/infra/unavailable.js';

const cluster = (env: Record<string, string>) => loadConfig(env).redisCluster;

describe('a Redis Cluster in configuration', () => {
  it('is named by REDIS_CLUSTER_NODES, with REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS', () => {
    expect(cluster({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002' })).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(
      cluster({
        REDIS_CLUSTER_NODES: 'redis-0.example:6379',
        REDIS_USERNAME: 'ocs',
        REDIS_PASSWORD: 's3cret',
        REDIS_TLS: '1',
      }),
    ).toEqual({
      nodes: [{ host: 'redis-0.example', port: 6379 }],
      username: 'ocs',
      password: 's3cret',
      tls: true,
    });
  });

  it('is named by a redis+cluster:// or rediss+cluster:// REDIS_URL, auth in the URL', () => {
    const c = loadConfig({ REDIS_URL: 'rediss+cluster://ocs:p%40ss@a.example:6379,b.example:6380' });
    expect(c.redisUrl).toBeUndefined();
    expect(c.redisCluster).toEqual({
      nodes: [
        { host: 'a.example', port: 6379 },
        { host: 'b.example', port: 6380 },
      ],
      username: 'ocs',
      password: 'p@ss',
      tls: true,
    });
    expect(cluster({ REDIS_URL: 'redis+cluster://:pw@127.0.0.1:7000' })).toEqual({
      nodes: [{ host: '127.0.0.1', port: 7000 }],
      password: 'pw',
      tls: false,
    });
  });

  it('is no Cluster when neither is set: REDIS_URL names one server', () => {
    const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c.redisCluster).toBeUndefined();
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'host-without-port' }, /REDIS_CLUSTER_NODES must list host:port/],
    [{ REDIS_CLUSTER_NODES: 'a:70000' }, /REDIS_CLUSTER_NODES must list host:port/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://b:2' }, /set one/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis+cluster://b:2' }, /not both/],
    [{ REDIS_URL: 'redis+cluster://' }, /REDIS_URL must look like redis\+cluster/],
    [{ REDIS_URL: 'redis+cluster://a:1/3' }, /REDIS_URL must look like/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS: 'yes' }, /REDIS_TLS must be 1 or 0/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('a Cluster that does not answer', () => {
  it('fails a command at once, as an outage (answered 503)', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], clusterOptions({ tls: false }));
    cluster.on('error', () => undefined);
    const started = Date.now();
    const err = await cluster.get('k').then(
      () => null,
      (e: unknown) => e,
    );
    cluster.disconnect();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isUnavailable(err)).toBe(true);
    expect(isUnavailable(new Error('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isUnavailable(new Error('TRYAGAIN Multiple keys request during rehashing of slot'))).toBe(true);
    expect(isUnavailable(new Error('CROSSSLOT Keys in request do not hash to the same slot'))).toBe(false);
  });
});
