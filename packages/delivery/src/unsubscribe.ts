import { createToken, linkToken } from '@volley/message';

export interface UnsubscribeSettings {
  /** Signs the tokens (VOLLEY_VERP_SECRET); without it there are no unsubscribe targets. */
  secret: string | undefined;
  /** The one-click endpoint (VOLLEY_UNSUBSCRIBE_URL); the token is appended as a path segment. */
  url: string | undefined;
  /** The bounce domain, which takes `unsubscribe+<token>@` mail. */
  bounceDomain: string | undefined;
}

/** A campaign's unsubscribe targets of one recipient, by its index and address. */
export type UnsubscribeTargets = (
  index: number,
  address: string,
) => { url?: string; mailto?: string };

/**
 * Unsubscribe targets with a token naming campaign and recipient: the https endpoint
 * (one-click, RFC 8058) when VOLLEY_UNSUBSCRIBE_URL is set, its token carrying the address
 * encrypted, and a mailto on the bounce domain, its token carrying a keyed hash of the address.
 * Either still works once retention removed the campaign's recipient list. Undefined when
 * neither can be made.
 */
export function unsubscribeTargets(
  s: UnsubscribeSettings,
  campaignId: string,
): UnsubscribeTargets | undefined {
  const secret = s.secret;
  if (!secret || (!s.url && !s.bounceDomain)) return undefined;
  const base = s.url?.replace(/\/+$/, '');
  const domain = s.bounceDomain;
  return (index, address) => ({
    ...(base ? { url: `${base}/${linkToken(secret, campaignId, index, address)}` } : {}),
    ...(domain
      ? {
          mailto: `unsubscribe+${createToken(secret, 'unsubscribe', campaignId, index, address)}@${domain}`,
        }
      : {}),
  });
}
