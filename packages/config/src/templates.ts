/**
 * The render budget: what one recipient's render may cost, read by the API (submit and
 * preview) and the senders alike, so a template the API accepts fits the senders' budget.
 */
import { DEFAULT_RENDER_LIMITS, type RenderLimits } from '@volley/message';
import type { Reader } from './reader.ts';

/**
 * Loop iterations, output characters and CPU time (ms) one recipient's render may take, and the
 * tags a campaign's templates may hold; the defaults (10,000, 4 MiB, 50 ms, 2,000) and why are
 * @volley/message's DEFAULT_RENDER_LIMITS.
 */
export type TemplateLimits = RenderLimits;

export const DEFAULT_TEMPLATE_LIMITS: Readonly<TemplateLimits> = DEFAULT_RENDER_LIMITS;

/** The variable that holds each limit, for messages that tell which one was hit. */
export const TEMPLATE_LIMIT_SETTINGS = {
  iterations: 'VOLLEY_TEMPLATE_MAX_ITERATIONS',
  output: 'VOLLEY_TEMPLATE_MAX_OUTPUT',
  time: 'VOLLEY_TEMPLATE_TIME_BUDGET',
  tags: 'VOLLEY_TEMPLATE_MAX_TAGS',
} as const;

/** V8's longest string is about 2^29 characters: no render can produce more. */
const MAX_STRING = 500_000_000;

export function templateLimits(r: Reader): TemplateLimits {
  const d = DEFAULT_TEMPLATE_LIMITS;
  let timeBudgetMs = r.durationMs(TEMPLATE_LIMIT_SETTINGS.time, d.timeBudgetMs);
  // A render is synchronous: while it runs, the sender serves no other campaign.
  if (timeBudgetMs < 1 || timeBudgetMs > 10_000) {
    r.problems.push(
      `${TEMPLATE_LIMIT_SETTINGS.time}=${JSON.stringify(r.raw(TEMPLATE_LIMIT_SETTINGS.time))} must be from 1ms to 10s: the CPU time one recipient's render may take, during which the sender does nothing else`,
    );
    // Checked against the default from here on, so one wrong value makes one problem.
    timeBudgetMs = d.timeBudgetMs;
  }
  return {
    maxIterations: r.int(
      TEMPLATE_LIMIT_SETTINGS.iterations,
      d.maxIterations,
      100,
      100_000_000,
      "the loop iterations one recipient's render may make; below 100 a loop over an ordinary list would fail every recipient",
    ),
    maxOutput: r.int(
      TEMPLATE_LIMIT_SETTINGS.output,
      d.maxOutput,
      1024,
      MAX_STRING,
      "the characters one recipient's render may produce (subject, HTML and text together)",
    ),
    timeBudgetMs,
    maxTags: r.int(
      TEMPLATE_LIMIT_SETTINGS.tags,
      d.maxTags,
      10,
      1_000_000,
      "the tags ({{…}}) a campaign's templates may hold together; each sender compiles them once per campaign, synchronously, at up to 0.1 ms a tag",
    ),
  };
}

/**
 * Over-budget CPU (ms) one run of a batch may spend before it sets the rest of its campaign's
 * recipients aside (the sender's render-cost.ts: the spend that demotes a campaign, and what
 * one run of a demoted batch may spend): two renders at the default time budget.
 */
export const OVER_BUDGET_PER_RUN_MS = 100;

/**
 * A run of a batch renders recipients over the time budget until OVER_BUDGET_PER_RUN_MS is
 * spent, the last one taking a whole budget: past the job lock, the batch would be taken for
 * stalled and run again on another sender.
 */
export function checkBudgetFitsLock(r: Reader, limits: TemplateLimits, jobLockMs: number): void {
  if (OVER_BUDGET_PER_RUN_MS + limits.timeBudgetMs >= jobLockMs / 2) {
    r.problems.push(
      `${TEMPLATE_LIMIT_SETTINGS.time} (${limits.timeBudgetMs} ms) + ${OVER_BUDGET_PER_RUN_MS} ms must stay under half of VOLLEY_JOB_LOCK (${jobLockMs} ms): a batch may render that long over the budget before it sets its campaign aside, and past its lock it would run again on another sender`,
    );
  }
}
