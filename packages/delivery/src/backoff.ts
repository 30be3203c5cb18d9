/**
 * Delay before attempt `attempt + 1` of a deferred message: exponential from `baseMs`,
 * capped at `maxMs`, with +-20% jitter so that a burst of deferrals does not come back as
 * a burst.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = 0.8 + 0.4 * random();
  return Math.round(Math.min(maxMs, exp * jitter));
}
