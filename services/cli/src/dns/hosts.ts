/**
 * The host records: the From domain's MX, the bounce domain's MX at the bounce service, and the
 * reverse DNS of each sending address, forward-confirmed (the PTR name resolves back to it),
 * which Gmail and Yahoo require of every sending IP.
 */
import { isIPv4 } from 'node:net';
import { reverseName, type Dns } from './resolver.ts';
import { result, type CheckResult } from './types.ts';

export async function mxCheck(dns: Dns, domain: string): Promise<CheckResult> {
  const mxs = await dns.mx(domain);
  const publish = {
    type: 'MX' as const,
    name: domain,
    value: '10 <the host that receives your mail>',
  };
  if (mxs.length === 0) {
    return result(
      'mx',
      'fail',
      `${domain} has no MX record: replies go nowhere, and receivers distrust senders whose domain takes no mail`,
      publish,
    );
  }
  // RFC 7505: one MX of priority 0 and target "." declares that the domain takes no mail.
  if (mxs.every((m) => m.exchange === '')) {
    return result(
      'mx',
      'fail',
      `${domain} has a null MX: it declares it takes no mail, so replies bounce`,
      publish,
    );
  }
  const hosts = mxs.sort((a, b) => a.priority - b.priority).map((m) => m.exchange);
  for (const host of hosts) {
    if ((await dns.addresses(host)).length > 0)
      return result('mx', 'pass', `${domain}: MX ${hosts.join(', ')}`);
  }
  return result(
    'mx',
    'fail',
    `${domain}: MX ${hosts.join(', ')}, but none of them has an address`,
    publish,
  );
}

export async function bounceMxCheck(
  dns: Dns,
  bounceDomain: string | undefined,
  bounceHost: string | undefined,
): Promise<CheckResult> {
  if (!bounceDomain) {
    return result(
      'bounce mx',
      'warn',
      'no bounce domain known (give --bounce-domain, or set VOLLEY_BOUNCE_DOMAIN): bounces go to the From domain and Volley does not see them',
    );
  }
  const host = bounceHost ?? bounceDomain;
  const publish = { type: 'MX' as const, name: bounceDomain, value: `10 ${host}` };
  const mxs = await dns.mx(bounceDomain);
  if (mxs.length === 0) {
    // RFC 5321 5.1: without MX, mail goes to the domain's own address (an implicit MX).
    if (host === bounceDomain && (await dns.addresses(host)).length > 0) {
      return result(
        'bounce mx',
        'warn',
        `${bounceDomain} has no MX; bounces reach its own address (implicit MX), publish an MX to be explicit`,
        publish,
      );
    }
    return result(
      'bounce mx',
      'fail',
      `${bounceDomain} has no MX: bounces cannot reach the bounce service at ${host}`,
      publish,
    );
  }
  const exchanges = mxs.map((m) => m.exchange);
  if (!exchanges.includes(host)) {
    return result(
      'bounce mx',
      'fail',
      `${bounceDomain}: MX ${exchanges.join(', ')}, not the bounce service's host ${host}`,
      publish,
    );
  }
  if ((await dns.addresses(host)).length === 0) {
    return result('bounce mx', 'fail', `${bounceDomain}: MX ${host}, but ${host} has no address`, {
      type: 'A',
      name: host,
      value: '<the bounce service address>',
    });
  }
  return result('bounce mx', 'pass', `${bounceDomain}: MX ${host} (the bounce service)`);
}

export async function ptrCheck(dns: Dns, ip: string): Promise<CheckResult> {
  const check = `ptr ${ip}`;
  const names = await dns.ptr(ip);
  if (names.length === 0) {
    return result(
      check,
      'fail',
      `${ip} has no PTR record: Gmail and Yahoo refuse mail from addresses without reverse DNS (the address's owner, often the hosting provider, sets it)`,
      {
        type: 'PTR',
        name: reverseName(ip),
        value: '<a host name of yours that resolves to this address>',
      },
    );
  }
  for (const name of names) {
    if ((await dns.addresses(name)).includes(ip))
      return result(check, 'pass', `${ip}: PTR ${name}, which resolves back to it`);
  }
  const name = names[0] ?? '';
  return result(
    check,
    'fail',
    `${ip}: PTR ${names.join(', ')}, but ${names.length > 1 ? 'none resolves' : 'it does not resolve'} back to ${ip} (not forward-confirmed)`,
    {
      type: isIPv4(ip) ? 'A' : 'AAAA',
      name,
      value: ip,
    },
  );
}
