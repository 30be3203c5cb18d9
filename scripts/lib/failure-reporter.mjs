/**
 * A test reporter for `npm run test:repeat`: one JSON line per failed test (file, the names
 * from the outermost suite down, the first lines of the error), so runs can be compared.
 * Suites that failed only because a test inside them failed are left out: the test is listed.
 * Plain JavaScript because Node loads reporters before tsx's hooks apply.
 *
 * @param {AsyncIterable<{type: string, data: {name: string, nesting: number, file?: string,
 *   details?: {error?: {message?: string, failureType?: string, cause?: unknown}}}}>} source
 * @returns {AsyncGenerator<string>}
 * @public node's --test-reporter loads this default export by path (for knip: nothing imports it)
 */
export default async function* failureReporter(source) {
  // Suites start before their tests, so the names above a failed test are the ones started
  // at lower nesting levels most recently.
  /** @type {string[]} */
  const path = [];
  for await (const event of source) {
    if (event.type === 'test:start') {
      path.length = event.data.nesting;
      path.push(event.data.name);
    } else if (event.type === 'test:fail') {
      const error = event.data.details?.error;
      if (error?.failureType === 'subtestsFailed') continue;
      const cause = error?.cause instanceof Error ? error.cause.message : '';
      const message = (cause || error?.message || '').split('\n').slice(0, 6).join('\n');
      const names = [...path.slice(0, event.data.nesting), event.data.name];
      yield `${JSON.stringify({ file: event.data.file ?? '', test: names.join(' > '), message })}\n`;
    }
  }
}
