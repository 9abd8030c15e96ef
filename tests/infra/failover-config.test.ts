/** The replica wait's settings (docs/SCALE-OUT.md): defaults, and refusals that name the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS', () => {
  it('wait for one replica for up to a second by default, and can be turned off', () => {
    expect(loadConfig({}).redisWait).toEqual({ replicas: 1, timeoutMs: 1000 });
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '0', REDIS_WAIT_TIMEOUT_MS: '250' }).redisWait).toEqual({
      replicas: 0,
      timeoutMs: 250,
    });
  });

  it('refuses a wait as long as a Redis command may take', () => {
    expect(() => loadConfig({ REDIS_WAIT_TIMEOUT_MS: '5000' })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '600' }).redisWait.timeoutMs).toBe(300);
    expect(
      loadConfig({ REDIS_WAIT_TIMEOUT_MS: '5000', REDIS_COMMAND_TIMEOUT_MS: '8000' }).redisWait.timeoutMs,
    ).toBe(5000);
  });

  it.each([
    ['REDIS_WAIT_REPLICAS', 'one'],
    ['REDIS_WAIT_REPLICAS', '-1'],
    ['REDIS_WAIT_TIMEOUT_MS', '0'],
    ['REDIS_WAIT_TIMEOUT_MS', '1.5'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
