/**
 * Where an endpoint may point (SSRF): `https://` only, unless WEBHOOK_ALLOW_HTTP; and only public
 * addresses, unless WEBHOOK_ALLOW_PRIVATE (a CRM on the same network). The host is resolved when the
 * endpoint is saved (a refusal is a 422 then) and again at every connection (`guardedLookup`, used by
 * the sender): a name that later resolves to a private address (DNS rebinding) is refused at send time.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface TargetPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

export class TargetRefused extends Error {}

const privateRanges = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  privateRanges.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
] as const)
  privateRanges.addSubnet(net, bits, 'ipv6');

/** Loopback, private, link-local, shared, multicast, reserved — anything not on the public Internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return privateRanges.check(address, 'ipv4');
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d) is that address.
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (embedded) return isPrivateAddress(embedded[1]!);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(lower)) return true; // mapped, hex form: refuse
  return privateRanges.check(address, 'ipv6');
}

/** The URL parsed and its scheme checked; the reason in words when refused. */
export function checkUrl(text: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TargetRefused('not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp))
    throw new TargetRefused(
      policy.allowHttp
        ? 'the scheme must be https or http'
        : 'the scheme must be https (WEBHOOK_ALLOW_HTTP allows http)',
    );
  if (url.username || url.password) throw new TargetRefused('credentials in the URL are not taken');
  return url;
}

export type Resolve = (host: string) => Promise<string[]>;

export const resolveHost: Resolve = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addrs: LookupAddress[]) =>
      err
        ? reject(new TargetRefused(`the host does not resolve (${err.code ?? err.message})`))
        : resolve(addrs.map((a) => a.address)),
    ),
  );

/** Every address the host has must be allowed: the connection may pick any of them. */
export async function checkTarget(
  text: string,
  policy: TargetPolicy,
  resolve: Resolve = resolveHost,
): Promise<URL> {
  const url = checkUrl(text, policy);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await resolve(host);
  if (!policy.allowPrivate) {
    const bad = addresses.find(isPrivateAddress);
    if (bad !== undefined)
      throw new TargetRefused(
        `${host} is a private, loopback or link-local address (${bad}); WEBHOOK_ALLOW_PRIVATE allows it`,
      );
  }
  return url;
}

/** The lookup the sender connects with: the address it connects to is the one checked. */
export function guardedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addrs: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const ok = policy.allowPrivate ? addrs : addrs.filter((a) => !isPrivateAddress(a.address));
      if (ok.length === 0 || ok.length !== addrs.length)
        return callback(new TargetRefused(`${hostname} resolves to a private address`), '', 0);
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      return callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}
