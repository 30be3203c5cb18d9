/** Errors of a policy file, with the line and column of each problem. */

export interface PolicyProblem {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  reason: string;
}

/** A policy that cannot be used; the previous policy, if any, stays in force. */
export class PolicyError extends Error {
  readonly code = 'SHAPING_POLICY_INVALID';
  readonly line: number;
  readonly column: number;
  readonly reason: string;

  constructor(
    readonly source: string,
    readonly problems: PolicyProblem[],
  ) {
    const first = problems[0] ?? { line: 1, column: 1, reason: 'invalid policy' };
    const lines = problems.map((p) => `${source}:${p.line}:${p.column}: ${p.reason}`);
    super(
      problems.length === 1
        ? (lines[0] ?? '')
        : `${problems.length} problems in ${source}:\n  ${lines.join('\n  ')}`,
    );
    this.name = 'PolicyError';
    this.line = first.line;
    this.column = first.column;
    this.reason = first.reason;
  }
}
