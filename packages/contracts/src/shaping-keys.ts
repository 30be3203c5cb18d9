/**
 * Redis key layout of traffic shaping. A shaping key (`domain:<d>`, `provider:<name>` or
 * `default:<d>`) names one limited destination; every Redis key below carries an expiry set by
 * the script that writes it, so an idle destination costs no memory. A destination's keys share
 * the Redis Cluster hash tag `{<shaping key>}`: the scripts that reserve, admit and adapt touch
 * several of them at once, and destinations spread over the cluster's nodes.
 */
export class ShapingKeys {
  private readonly base: string;
  constructor(readonly prefix: string = 'volley') {
    this.base = `${prefix}:shp`;
  }

  /** String: the GCRA theoretical arrival time (epoch ms, Redis clock) of the destination. */
  gcra(key: string): string {
    return `${this.base}:{${key}}:gcra`;
  }
  /**
   * String: the admission TAT of the destination: the GCRA of the messages that actually
   * start (late slots included), which bounds the rate whatever the slots' lateness.
   */
  admission(key: string): string {
    return `${this.base}:{${key}}:adm`;
  }
  /**
   * String: epoch ms (Redis clock) of the last slow-down or destination-wide suspension. A
   * slot reserved before it was reserved on a schedule that no longer holds: its holder
   * reserves again. Outlives the adaptive state, whose end must not revive those slots.
   */
  voidBefore(key: string): string {
    return `${this.base}:{${key}}:void`;
  }
  /** Sorted set: connection lease ids scored by their expiry (epoch ms, Redis clock). */
  leases(key: string): string {
    return `${this.base}:{${key}}:conn`;
  }
  /**
   * Sorted set: recent replies that matched one adaptive rule, scored by time. A rule scoped
   * to a campaign counts each campaign apart, so one campaign's complaints suspend only it.
   */
  adaptiveCount(key: string, rule: string, campaignId?: string): string {
    const c = campaignId === undefined ? '' : `:c:${campaignId}`;
    return `${this.base}:{${key}}:cnt:${rule}${c}`;
  }
  /** Hash: the slow-down in force for the destination (factor, until, recovery steps). */
  adaptiveState(key: string): string {
    return `${this.base}:{${key}}:adapt`;
  }
  /** Hash: suspensions of the destination, field `*` (all campaigns) or `c:<id>` → until. */
  suspended(key: string): string {
    return `${this.base}:{${key}}:susp`;
  }
  /** Field of {@link suspended} for the whole destination or for one campaign. */
  suspendedField(campaignId?: string): string {
    return campaignId === undefined ? '*' : `c:${campaignId}`;
  }
  /**
   * Sorted set: shaping keys with an adaptive state (slow-down or suspension), scored by when
   * it ends; read by the API snapshot and by the tick that reports recoveries.
   */
  get active(): string {
    return `${this.base}:active`;
  }
}
