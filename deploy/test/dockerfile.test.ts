/**
 * The Dockerfile, linted and read offline (no container engine and no hadolint here): the
 * instruction syntax through dockerfile-utils' validator (the checks of the Docker language
 * server), and what the image promises through its parsed instructions: the LTS base, a build
 * stage that runs the script CI tests (scripts/build-image-root.sh, deploy/test/image.check.ts),
 * a final stage that only copies its output, a numeric non-root user and `node` as PID 1.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import dockerfileAst from 'dockerfile-ast';
import dockerfileUtils from 'dockerfile-utils';
import { ROOT } from '@volley/runtime';

const { DockerfileParser } = dockerfileAst;
const { validate, ValidationSeverity } = dockerfileUtils;

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Every check of the validator that has a severity setting, raised to an error. */
const STRICT = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function lint(text: string): string[] {
  return validate(text, STRICT).map(
    (d) =>
      `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
  );
}

interface Step {
  keyword: string;
  /** Everything after the keyword, flags included (`--from=build /app /app`). */
  args: string;
}

/** The instructions of each stage, in order; stage 0 is what comes before the first FROM. */
function stages(text: string): Step[][] {
  const out: Step[][] = [[]];
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    const keyword = i.getKeyword();
    const step = { keyword, args: i.getTextContent().slice(keyword.length).trim() };
    if (step.keyword === 'FROM') out.push([]);
    out[out.length - 1]?.push(step);
  }
  return out;
}

test('the Dockerfile passes the validator with every check an error (which catches a broken one)', () => {
  assert.deepEqual(lint(DOCKERFILE), []);
  // The validator is live: the same checks reject a file with the mistakes they look for.
  const broken = lint('from node:24\nworkdir app\nCMD [\'node\']\nCMD ["node"]\n');
  assert.ok(broken.length >= 3, `the validator found ${JSON.stringify(broken)}`);
});

test('two stages on the LTS base: the build stage runs scripts/build-image-root.sh, the final one only copies /app and runs node on compiled JavaScript as a numeric non-root user', () => {
  const [preamble = [], build = [], final = [], ...more] = stages(DOCKERFILE);
  assert.equal(more.length, 0, 'two stages');

  const base = preamble.find((s) => s.keyword === 'ARG' && s.args.startsWith('NODE_IMAGE='));
  const major = Number(/^NODE_IMAGE=node:(\d+)-/.exec(base?.args ?? '')?.[1]);
  // Node's LTS lines are the even majors; 24 is the oldest one still maintained.
  assert.ok(major >= 24 && major % 2 === 0, `an LTS Node base image: ${base?.args}`);
  assert.equal(build[0]?.args, '${NODE_IMAGE} AS build');
  assert.equal(final[0]?.args, '${NODE_IMAGE}');

  assert.ok(
    build.some((s) => s.keyword === 'RUN' && s.args === 'bash scripts/build-image-root.sh /app'),
    'the build stage builds /app with the script CI runs',
  );
  // Nothing runs at build time in the final stage: it holds exactly what the script produced.
  assert.deepEqual(
    final.filter((s) => ['RUN', 'ADD', 'COPY'].includes(s.keyword)),
    [{ keyword: 'COPY', args: '--from=build /app /app' }],
  );

  const user = final.findLast((s) => s.keyword === 'USER')?.args ?? '';
  const [uid, gid] = user.split(':').map(Number);
  assert.ok(uid !== undefined && uid > 0 && gid !== undefined && gid > 0, `USER ${user}`);

  const exec = (keyword: string): unknown =>
    JSON.parse(final.findLast((s) => s.keyword === keyword)?.args ?? 'null');
  // Exec form: node is PID 1 and receives SIGTERM itself (no shell in between).
  assert.deepEqual(exec('ENTRYPOINT'), ['node']);
  const cmd = exec('CMD');
  assert.ok(Array.isArray(cmd) && /^services\/\w+\/dist\/main\.js$/.test(String(cmd[0])));
  assert.ok(
    !final.some((s) => /\btsx\b/.test(s.args)),
    'production runs compiled JavaScript, not tsx',
  );
});

test('.dockerignore keeps local installs, builds and results out of the build context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const p of ['.git', '**/node_modules', '**/dist', 'benchmarks/results']) {
    assert.ok(ignored.includes(p), `.dockerignore lists ${p}`);
  }
});
