import { parseMailbox } from '@volley/message';
import type { ApiContext } from './context.ts';
import { ApiProblem } from './problem.ts';

/**
 * Refuses (422) a campaign whose From domain is not one of its tenant's sending domains or a
 * subdomain of one, before anything is stored or queued: a tenant never sends as another's
 * domain, whose DKIM key would otherwise make the mail pass DMARC. `path` names the field.
 */
export async function requireSendingDomain(
  ctx: ApiContext,
  tenant: string,
  from: string,
  path: string,
): Promise<void> {
  // An address that does not parse is refused by the campaign's own validation.
  const domain = parseMailbox(from)?.domain;
  if (!domain) return;
  const decision = await ctx.sendingDomains.check(tenant, domain);
  if (decision.allowed) return;
  const why = decision.tenantHasDomains
    ? `${domain} is not a sending domain of tenant ${tenant} nor a subdomain of one`
    : `tenant ${tenant} has no sending domains, so it cannot send as ${domain}`;
  throw new ApiProblem(
    422,
    'Sending domain not allowed',
    `${path}: ${why}; an operator adds it with POST /v1/admin/tenants/${tenant}/domains {"domain": "${domain}"} (or \`npm run admin -- domains add ${tenant} ${domain}\`) and publishes the DNS records it answers`,
    [{ path, message: why }],
  );
}
