/**
 * Campaigns as the sender uses them: templates compiled and the composer built once per
 * campaign and process, the status re-read at most once a second.
 */
import type { CampaignDefinition, CampaignStore } from '@volley/campaigns';
import { DEFAULT_TEMPLATE_LIMITS, type TemplateLimits } from '@volley/config';
import type { CampaignStatus } from '@volley/contracts';
import { isRefused, type Signing } from '@volley/domains';
import {
  MessageComposer,
  compileCampaignTemplates,
  parseMailbox,
  type CompiledTemplates,
  type DkimSigner,
} from '@volley/message';
import { RenderCost } from './render-cost.ts';
import { STATUS_TTL_MS } from './timing.ts';
import type { UnsubscribeTargets } from './unsubscribe.ts';

/** What a message of the campaign is made from. */
export interface CompiledCampaign {
  id: string;
  tenant: string;
  /** Domain of the From address: with the tenant, picks the DKIM keys. */
  fromDomain: string;
  /** Signs its messages: the tenant's key for the From domain; undefined sends unsigned. */
  dkim: DkimSigner | undefined;
  /**
   * Why its messages may not be sent at all (the From domain is another tenant's now): each
   * fails with reason `sending-domain`.
   */
  refused: string | undefined;
  /** An Error when the templates do not compile: every message then fails with it. */
  templates: CompiledTemplates | Error;
  composer: MessageComposer | Error;
  /** What its renders that went over budget cost this process. */
  renderCost: RenderCost;
}

export interface CampaignRuntime extends CompiledCampaign {
  status: CampaignStatus;
  /** When `status` was read (epoch ms): re-read after {@link STATUS_TTL_MS}. */
  statusReadAt: number;
}

/** A campaign record's fields that its messages are made from. */
export type CampaignSource = CampaignDefinition & { id: string; tenant: string };

/**
 * Compiles a campaign's templates to render within `limits` and builds its composer; a failure
 * of either is kept as its Error.
 */
export function compileCampaign(
  rec: CampaignSource,
  unsubscribe: UnsubscribeTargets | undefined,
  limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS,
): CompiledCampaign {
  let templates: CompiledTemplates | Error;
  let composer: MessageComposer | Error;
  try {
    templates = compileCampaignTemplates(rec, limits);
  } catch (err) {
    templates = err instanceof Error ? err : new Error(String(err));
  }
  try {
    composer = new MessageComposer({
      campaignId: rec.id,
      from: rec.from,
      replyTo: rec.replyTo,
      headers: rec.headers,
      unsubscribe,
    });
  } catch (err) {
    composer = err instanceof Error ? err : new Error(String(err));
  }
  return {
    id: rec.id,
    tenant: rec.tenant,
    fromDomain: parseMailbox(rec.from)?.domain ?? '',
    dkim: undefined,
    refused: undefined,
    templates,
    composer,
    renderCost: new RenderCost(),
  };
}

/** The signer of a tenant's mail from a domain (see `TenantSigners`); it keeps its own cache. */
export type SignerLookup = (tenant: string, fromDomain: string) => Promise<Signing>;

/** Campaigns kept compiled per process; least recently used beyond that are dropped. */
const CAMPAIGN_CACHE_SIZE = 500;

export class CampaignCache {
  private readonly campaigns = new Map<string, CampaignRuntime>();

  /**
   * `clock`: epoch ms; tests pass their own to judge staleness without waiting. `limits`: the
   * render budget of one recipient (VOLLEY_TEMPLATE_*).
   */
  constructor(
    private readonly store: CampaignStore,
    private readonly unsubscribe: (campaignId: string) => UnsubscribeTargets | undefined,
    private readonly clock: () => number = Date.now,
    private readonly signers: SignerLookup = async () => undefined,
    private readonly limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS,
  ) {}

  /**
   * The campaign, compiled on first use, with the DKIM signer its tenant has now (a rotation
   * reaches running campaigns) or the refusal of its From domain; undefined once it no longer
   * exists.
   */
  async get(id: string): Promise<CampaignRuntime | undefined> {
    const rt = await this.compiled(id);
    if (!rt) return rt;
    const signing = await this.signers(rt.tenant, rt.fromDomain);
    rt.refused = isRefused(signing) ? signing.refused : undefined;
    rt.dkim = isRefused(signing) ? undefined : signing;
    return rt;
  }

  /**
   * The campaign was cancelled (the cancels channel said so): its messages still waiting for a
   * connection in this process are not handed to SMTP (see Deliverer), without waiting for the
   * next status read.
   */
  cancelled(id: string): void {
    const rt = this.campaigns.get(id);
    if (rt) rt.status = 'cancelled';
  }

  /**
   * The campaign, compiled on first use; undefined once it no longer exists. Its status is at
   * most {@link STATUS_TTL_MS} older than the call: a pause reaches every sender within that.
   */
  private async compiled(id: string): Promise<CampaignRuntime | undefined> {
    // Taken before the read, so the status is never older than it says.
    const now = this.clock();
    const rt = this.campaigns.get(id);
    if (rt && now - rt.statusReadAt > STATUS_TTL_MS) {
      const status = await this.store.status(id);
      if (!status) {
        this.campaigns.delete(id);
        return undefined;
      }
      rt.status = status;
      rt.statusReadAt = now;
    }
    if (rt) {
      // Re-insert to keep Map order as recency order for the LRU.
      this.campaigns.delete(id);
      this.campaigns.set(id, rt);
      return rt;
    }
    const rec = await this.store.get(id);
    if (!rec) return undefined;
    const fresh: CampaignRuntime = {
      ...compileCampaign(rec, this.unsubscribe(id), this.limits),
      status: rec.status,
      statusReadAt: now,
    };
    this.campaigns.set(id, fresh);
    if (this.campaigns.size > CAMPAIGN_CACHE_SIZE) {
      const oldest = this.campaigns.keys().next().value;
      if (oldest !== undefined) this.campaigns.delete(oldest);
    }
    return fresh;
  }
}
