/**
 * Which connections a message takes: the transport (the smart hosts, or the recipient
 * domain's own MX hosts), and within it the route of the message's shaping destination.
 */
import type { RelayTarget } from '@volley/config';
import { MxPool } from './mx-pool.ts';
import type { MxResolver } from './mx-resolver.ts';
import type { SlotLease } from './pool.ts';
import { RelayPool } from './relay-pool.ts';
import type { Route, Transport } from './transport.ts';

export interface TransportChoice {
  /** `relay`: through the smart hosts; `mx`: to each recipient domain's MX hosts. */
  delivery: 'relay' | 'mx';
  /** The smart hosts (relay mode). */
  relays: readonly RelayTarget[];
  /** MX lookups and their cache (mx mode). @defaultValue a new MxResolver on the system's DNS */
  resolver?: MxResolver | undefined;
  /** Port of every MX host (mx mode). */
  mxPort: number;
  /** Connections per relay, or per destination address, held by this process. */
  poolSize: number;
  /** EHLO name. */
  heloName?: string | undefined;
}

/** The transport of a delivery mode: pooled connections to the smart hosts or to MX hosts. */
export function createTransport(c: TransportChoice): Transport {
  return c.delivery === 'mx'
    ? new MxPool({
        resolver: c.resolver,
        port: c.mxPort,
        poolSize: c.poolSize,
        heloName: c.heloName,
      })
    : new RelayPool([...c.relays], { poolSize: c.poolSize, heloName: c.heloName });
}

/** What routing needs of a shaping destination; a shaping plan has these fields. */
export interface RoutedDestination {
  /** The shaping key (`domain:<d>`, `provider:<name>`, `default:<d>`). */
  readonly key: string;
  readonly rule: {
    readonly ratePerSec?: number | undefined;
    readonly connections?: number | undefined;
    readonly messagesPerConnection?: number | undefined;
  };
}

/**
 * Destinations remembered at most. With the default policy every domain has a route, so the
 * table is trimmed like the campaign cache: a route dropped here is rebuilt on next use, and
 * pools already made keep working (they ask for slots by key).
 */
const MAX_DESTINATIONS = 10_000;

/**
 * The route of each shaping destination, built once and reused for its messages.
 *
 * - A destination with a connection cap or a limit of messages per connection: pools of its
 *   own, whose new connections ask `acquireSlot` for a lease on the cap shared by all workers.
 * - A destination with only a rate: pools of its own without leases. In the shared pool its
 *   batches, admitted on their slots, waited behind an unlimited domain's backlog and then
 *   arrived on top of the next ones (a test counted 30 in one second for 20/s + burst 5).
 * - Any other destination: no route; its messages share connections.
 */
export class RouteTable<D extends RoutedDestination> {
  private readonly routes = new Map<string, Route>();
  /** The destination each route was last asked for: slots are asked for with its limits. */
  private readonly latest = new Map<string, D>();

  /** `acquireSlot`: a lease for a new connection of a capped destination, or undefined when its cap is full. */
  constructor(private readonly acquireSlot: (dest: D) => Promise<SlotLease | undefined>) {}

  routeFor(dest: D): Route | undefined {
    const { connections, messagesPerConnection, ratePerSec } = dest.rule;
    const capped = connections !== undefined || messagesPerConnection !== undefined;
    if (!capped && ratePerSec === undefined) return undefined;
    const key = dest.key;
    if (this.latest.size > MAX_DESTINATIONS && !this.latest.has(key)) {
      const oldest = this.latest.keys().next().value;
      if (oldest !== undefined) {
        this.latest.delete(oldest);
        this.routes.delete(oldest);
      }
    }
    this.latest.set(key, dest);
    let route = this.routes.get(key);
    if (
      !route ||
      route.maxMessagesPerConnection !== messagesPerConnection ||
      (route.acquireSlot !== undefined) !== capped
    ) {
      route = {
        // Pools are kept per route key: a cap added by a policy change must get a pool that
        // asks for leases, not keep the uncapped one the destination had.
        key: capped ? key : `${key} uncapped`,
        maxMessagesPerConnection: messagesPerConnection,
        acquireSlot: capped ? () => this.acquireSlot(this.latest.get(key) ?? dest) : undefined,
      };
      this.routes.set(key, route);
    }
    return route;
  }
}
