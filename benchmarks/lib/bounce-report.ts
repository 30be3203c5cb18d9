/** The Markdown report of `npm run bench:bounces`. */
import type { Agreement, CorpusMeasurement } from '@volley/bounce';

/** What the issue asks of the classifier on the corpus (a naive one reaches 34% and 61%). */
export const BOUNCE_TARGETS = { reason: 90, hardSoft: 97 };

export interface BounceRunInfo {
  startedAt: string;
  commit: string;
  corpus: string;
  node: string;
  /** Wall time of parsing every message, in milliseconds. */
  elapsedMs: number;
}

function pct(a: Agreement): string {
  return a.total === 0 ? 'n/a' : `${((a.agree / a.total) * 100).toFixed(1)}%`;
}

function share(a: Agreement): number {
  return a.total === 0 ? 0 : (a.agree / a.total) * 100;
}

/** Whether the measurement meets the targets and reports no bounce for a not-bounce. */
export function meetsTargets(m: CorpusMeasurement): boolean {
  return (
    share(m.reason) >= BOUNCE_TARGETS.reason &&
    share(m.hardSoft) >= BOUNCE_TARGETS.hardSoft &&
    m.notBounceReports.length === 0
  );
}

export function bounceMarkdown(m: CorpusMeasurement, info: BounceRunInfo): string {
  const lines: string[] = [];
  const messages = m.bounceFiles + m.notBounceFiles;
  lines.push(`# Volley bounce classification on the corpus, ${info.startedAt}`, '');
  lines.push(
    `${m.bounceFiles} bounce messages and ${m.notBounceFiles} not-bounces from \`${info.corpus}\`, ` +
      `each parsed by \`@volley/bounce\` (what \`npm run -s bounce:classify\` prints) and compared ` +
      `with the corpus's \`expected.json\`, recipient by recipient in the order the message lists ` +
      `them. Commit ${info.commit}, Node ${info.node}; ${messages} messages parsed in ` +
      `${Math.round(info.elapsedMs)} ms (${(info.elapsedMs / Math.max(messages, 1)).toFixed(1)} ms each).`,
    '',
  );
  lines.push('## Headline', '');
  lines.push('| figure | result | target |', '| --- | ---: | ---: |');
  lines.push(
    `| recipient count agrees (files) | **${pct(m.recipientCount)}** (${m.recipientCount.agree}/${m.recipientCount.total}) | |`,
  );
  lines.push(
    `| reason agrees (recipients) | **${pct(m.reason)}** (${m.reason.agree}/${m.reason.total}) | ≥ ${BOUNCE_TARGETS.reason}% |`,
  );
  lines.push(
    `| hard/soft agrees (recipients) | **${pct(m.hardSoft)}** (${m.hardSoft.agree}/${m.hardSoft.total}) | ≥ ${BOUNCE_TARGETS.hardSoft}% |`,
  );
  lines.push(
    `| not-bounces reported as bounces | **${m.notBounceReports.length}** of ${m.notBounceFiles} | 0 |`,
  );
  lines.push('', `Targets met: **${meetsTargets(m) ? 'yes' : 'no'}**.`, '');
  lines.push(
    'A recipient the parser does not report counts as a disagreement on both reason and ' +
      'hard/soft. A naive classifier (a status-code table and a few phrases) reaches 34% and 61% here.',
    '',
  );

  lines.push('## Per reason', '');
  lines.push('| expected reason | recipients | reason agrees | hard/soft agrees |');
  lines.push('| --- | ---: | ---: | ---: |');
  const reasons = Object.entries(m.perReason).sort(
    (a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]),
  );
  for (const [reason, r] of reasons) {
    lines.push(
      `| ${reason} | ${r.total} | ${pct({ agree: r.reason, total: r.total })} | ${pct({ agree: r.hardSoft, total: r.total })} |`,
    );
  }
  lines.push('');

  lines.push('## Confusion (expected → reported)', '');
  const confusion = Object.entries(m.confusion).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
  if (confusion.length === 0) lines.push('None.');
  else {
    lines.push('| expected → reported | recipients | messages |', '| --- | ---: | --- |');
    for (const [key, n] of confusion) {
      const files = m.misses
        .filter((x) => `${x.expected} → ${x.got}` === key)
        .map((x) => `${x.file}#${x.index}${x.hardSoftAgrees ? '' : ' (hard/soft too)'}`);
      lines.push(`| ${key} | ${n} | ${files.join(', ')} |`);
    }
  }
  lines.push('');

  lines.push('## Recipient counts that differ', '');
  if (m.countMismatches.length === 0) lines.push('None.');
  else {
    lines.push('| message | expected | reported |', '| --- | ---: | ---: |');
    for (const c of m.countMismatches) lines.push(`| ${c.file} | ${c.expected} | ${c.got} |`);
  }
  lines.push('');

  lines.push('## Not-bounces', '');
  if (m.notBounceReports.length === 0)
    lines.push(`None of the ${m.notBounceFiles} was reported as a bounce.`);
  else {
    for (const r of m.notBounceReports) {
      lines.push(`- ${r.file}: ${r.reported.map((x) => `${x.recipient} ${x.reason}`).join(', ')}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
