/**
 * Measures the parser on a labelled corpus laid out as `../shared/bounce-corpus` is:
 * `bounces/*.eml` and `not-bounces/*.eml`, and `expected.json` with one entry per reported
 * recipient of each bounce, in the order the message lists them.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBounce } from './parse.ts';
import type { BounceReport } from './types.ts';

export interface Expectation {
  index: number;
  status: string;
  replyCode: string;
  reason: string;
  hardBounce: boolean;
  feedbackType?: string;
}

/** What the `bounce:classify` command prints for each recipient. */
export interface ClassifiedRecipient {
  recipient: string;
  status: string;
  replyCode: string;
  reason: string;
  hardBounce: boolean;
}

export interface Miss {
  file: string;
  index: number;
  expected: string;
  got: string;
  /** Whether hard/soft agreed despite the reason. */
  hardSoftAgrees: boolean;
}

export interface Agreement {
  agree: number;
  total: number;
}

export interface CorpusMeasurement {
  bounceFiles: number;
  notBounceFiles: number;
  /** Files whose number of reported recipients is the expected one. */
  recipientCount: Agreement;
  /** Expected entries whose reason (paired by position) agrees. */
  reason: Agreement;
  /** Expected entries whose hard/soft decision agrees (a missing entry disagrees). */
  hardSoft: Agreement;
  perReason: Record<string, { total: number; reason: number; hardSoft: number }>;
  /** Each disagreement on reason, file by file. */
  misses: Miss[];
  /** "expected → got" with how often. */
  confusion: Record<string, number>;
  /** Not-bounces for which something was reported, with what. */
  notBounceReports: { file: string; reported: ClassifiedRecipient[] }[];
  /** Bounce files whose recipient count disagrees. */
  countMismatches: { file: string; expected: number; got: number }[];
}

/** The command's view of a report: its recipients as `bounce:classify` prints them. */
export function classifyReport(report: BounceReport): ClassifiedRecipient[] {
  return report.recipients.map((r) => ({
    recipient: r.recipient,
    status: r.status,
    replyCode: r.replyCode,
    reason: r.reason,
    hardBounce: r.hardBounce,
  }));
}

/** Parses a message and returns its recipients as `bounce:classify` prints them. */
async function classifyMessage(raw: Buffer): Promise<ClassifiedRecipient[]> {
  return classifyReport(await parseBounce(raw));
}

async function emlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
}

/** Runs the parser over the corpus in `dir` and compares with its expected.json. */
export async function measureCorpus(dir: string): Promise<CorpusMeasurement> {
  const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Record<
    string,
    Expectation[]
  >;
  const m: CorpusMeasurement = {
    bounceFiles: 0,
    notBounceFiles: 0,
    recipientCount: { agree: 0, total: 0 },
    reason: { agree: 0, total: 0 },
    hardSoft: { agree: 0, total: 0 },
    perReason: {},
    misses: [],
    confusion: {},
    notBounceReports: [],
    countMismatches: [],
  };
  for (const file of await emlFiles(join(dir, 'bounces'))) {
    m.bounceFiles++;
    const want = expected[file] ?? [];
    const got = await classifyMessage(await readFile(join(dir, 'bounces', file)));
    m.recipientCount.total++;
    if (got.length === want.length) m.recipientCount.agree++;
    else m.countMismatches.push({ file, expected: want.length, got: got.length });
    want.forEach((e, i) => {
      const g = got[i];
      const per = (m.perReason[e.reason] ??= { total: 0, reason: 0, hardSoft: 0 });
      per.total++;
      m.reason.total++;
      m.hardSoft.total++;
      const reasonAgrees = g?.reason === e.reason;
      const hardAgrees = g !== undefined && g.hardBounce === e.hardBounce;
      if (reasonAgrees) {
        m.reason.agree++;
        per.reason++;
      }
      if (hardAgrees) {
        m.hardSoft.agree++;
        per.hardSoft++;
      }
      if (!reasonAgrees) {
        const gotReason = g?.reason ?? '(none)';
        m.misses.push({
          file,
          index: e.index,
          expected: e.reason,
          got: gotReason,
          hardSoftAgrees: hardAgrees,
        });
        const key = `${e.reason} → ${gotReason}`;
        m.confusion[key] = (m.confusion[key] ?? 0) + 1;
      }
    });
  }
  for (const file of await emlFiles(join(dir, 'not-bounces'))) {
    m.notBounceFiles++;
    const got = await classifyMessage(await readFile(join(dir, 'not-bounces', file)));
    if (got.length > 0) m.notBounceReports.push({ file, reported: got });
  }
  return m;
}

/** A share as a percentage with one decimal. */
export function percent(a: Agreement): number {
  return a.total === 0 ? 0 : Math.round((a.agree / a.total) * 1000) / 10;
}
