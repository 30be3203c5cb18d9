/** Small statistics used by the report: medians, percentiles and steady-state rates. */

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** One figure over the repetitions of a run: its median, its range and every value. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  return {
    median: median(v),
    min: v.length ? Math.min(...v) : Number.NaN,
    max: v.length ? Math.max(...v) : Number.NaN,
    values,
  };
}

/** Nearest-rank percentile (p in 0..100) of values sorted ascending. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** A point of a cumulative count over time: `n` messages accepted after `t` seconds. */
export interface CountSample {
  t: number;
  n: number;
}

/** A rate measured over one window, placed at the window's middle. */
export interface RatePoint {
  t: number;
  rate: number;
}

/**
 * Rates over consecutive windows of at least `windowS` seconds, built from the samples taken
 * every ~250 ms. Windows do not overlap, so neighbouring points are independent measurements.
 */
export function windowRates(
  samples: CountSample[],
  windowS = 1,
): (RatePoint & { n0: number; n1: number })[] {
  const out: (RatePoint & { n0: number; n1: number })[] = [];
  let start = samples[0];
  if (!start) return out;
  for (const s of samples) {
    if (s.t - start.t >= windowS) {
      out.push({
        t: (s.t + start.t) / 2,
        rate: (s.n - start.n) / (s.t - start.t),
        n0: start.n,
        n1: s.n,
      });
      start = s;
    }
  }
  return out;
}

/** Time at which the cumulative count first reached `n`, interpolated between samples. */
function timeAt(samples: CountSample[], n: number): number {
  // Counts derived from bytes carry rounding error: the last sample may read 1999.9999 of 2000.
  const target = n - 1e-6;
  let prev: CountSample | undefined;
  for (const s of samples) {
    if (s.n >= target) {
      if (!prev || s.n === prev.n) return s.t;
      return prev.t + ((Math.min(n, s.n) - prev.n) / (s.n - prev.n)) * (s.t - prev.t);
    }
    prev = s;
  }
  return Number.NaN;
}

export interface SteadyRate {
  /** Messages per second: median of the 1-s windows that lie wholly in the steady state. */
  rate: number;
  /** How many 1-s windows the median was taken over; 0 means the run was too short for windows. */
  windows: number;
  /** Mean rate from the first to the last accepted message, ramp-up and tail included. */
  overall: number;
  /** Seconds from the first to the last accepted message. */
  activeS: number;
}

/**
 * The steady state is the part of the run between 10% and 90% of the messages accepted: it
 * leaves out connection set-up and the first window's expansion at the start, and the tail
 * where fewer and fewer batches remain at the end. A run too short to hold a whole 1-s window
 * there falls back to the mean rate over that same 10%-90% span.
 */
export function steadyRate(samples: CountSample[], total: number): SteadyRate {
  const lo = 0.1 * total;
  const hi = 0.9 * total;
  const windows = windowRates(samples).filter((w) => w.n0 >= lo && w.n1 <= hi);
  const first = timeAt(samples, Math.min(1, total));
  const last = timeAt(samples, total);
  const activeS = last - first;
  const overall = activeS > 0 ? total / activeS : Number.NaN;
  if (windows.length > 0) {
    return { rate: median(windows.map((w) => w.rate)), windows: windows.length, overall, activeS };
  }
  const span = timeAt(samples, hi) - timeAt(samples, lo);
  return { rate: span > 0 ? (hi - lo) / span : overall, windows: 0, overall, activeS };
}
