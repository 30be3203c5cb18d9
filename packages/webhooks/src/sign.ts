/**
 * Webhook signatures, as Stripe writes them: `Volley-Signature: t=<unix seconds>,v1=<hex>`,
 * where v1 is HMAC-SHA256 of `<t>.<raw body>` with the endpoint's secret. The timestamp inside
 * the signed text lets a receiver refuse a replay of an old delivery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'volley-signature';

/** A receiver accepts a delivery signed at most this long ago (and this far ahead): 5 minutes. */
export const DEFAULT_TOLERANCE_SEC = 300;

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

export type VerifyResult =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'too-old' };

/**
 * What a receiver does: parse the header, recompute the HMAC over the raw body and compare in
 * constant time, then check the timestamp is within `toleranceSec` of now.
 */
export function verifyWebhook(
  header: string | undefined,
  body: string,
  secret: string,
  opts: { toleranceSec?: number; now?: number } = {},
): VerifyResult {
  if (!header) return { ok: false, reason: 'malformed' };
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) v1.push(v);
  }
  if (t === undefined || v1.length === 0) return { ok: false, reason: 'malformed' };
  const want = Buffer.from(hmac(secret, t, body), 'hex');
  // Several v1 values: a receiver accepts any, so secrets can be rotated.
  if (!v1.some((v) => timingSafeEqual(Buffer.from(v, 'hex'), want))) {
    return { ok: false, reason: 'mismatch' };
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC)) {
    return { ok: false, reason: 'too-old' };
  }
  return { ok: true, timestamp: t };
}
