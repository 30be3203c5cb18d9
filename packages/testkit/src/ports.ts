/**
 * Loopback ports for a test that needs several in a row (a base port and the next ones, as
 * VOLLEY_METRICS_PORT gives the api its port and the other services the next ones).
 */
import { readFileSync } from 'node:fs';
import { portIsFree } from '@volley/runtime';

/** Where the kernel takes the local ports of outgoing connections (Linux's default if unknown). */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > 11_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * The first of `count` consecutive free loopback ports. Drawn below the ephemeral range: a
 * block inside it can be taken between this check and the listen by the local port of any
 * outgoing connection on the machine (a shared one runs other tests), while ports below it
 * are only ever taken by servers that ask for them. Random bases, so tests running side by
 * side rarely try the same one; 200 tries.
 */
export async function freePortBlock(count: number): Promise<number> {
  const top = ephemeralStart() - count;
  const bottom = 10_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = bottom + Math.floor(Math.random() * (top - bottom));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portIsFree(p);
    if (free) return base;
  }
  throw new Error(
    `no ${count} consecutive free loopback ports below ${top + count} after 200 tries`,
  );
}
