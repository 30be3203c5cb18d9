import { createToken } from '@volley/message';

export interface UnsubscribeSettings {
  /** Signs the tokens (VOLLEY_VERP_SECRET); without it there are no unsubscribe targets. */
  secret: string | undefined;
  /** The one-click endpoint (VOLLEY_UNSUBSCRIBE_URL); the token is appended as a path segment. */
  url: string | undefined;
  /** The bounce domain, which takes `unsubscribe+<token>@` mail. */
  bounceDomain: string | undefined;
}

/** A campaign's unsubscribe targets of one recipient, by its index. */
export type UnsubscribeTargets = (index: number) => { url?: string; mailto?: string };

/**
 * Unsubscribe targets with a signed token naming campaign and recipient: the https endpoint
 * (one-click, RFC 8058) when VOLLEY_UNSUBSCRIBE_URL is set, and a mailto on the bounce domain.
 * Undefined when neither can be made.
 */
export function unsubscribeTargets(
  s: UnsubscribeSettings,
  campaignId: string,
): UnsubscribeTargets | undefined {
  const secret = s.secret;
  if (!secret || (!s.url && !s.bounceDomain)) return undefined;
  const base = s.url?.replace(/\/+$/, '');
  const domain = s.bounceDomain;
  return (index) => {
    const token = createToken(secret, 'unsubscribe', campaignId, index);
    return {
      ...(base ? { url: `${base}/${token}` } : {}),
      ...(domain ? { mailto: `unsubscribe+${token}@${domain}` } : {}),
    };
  };
}
