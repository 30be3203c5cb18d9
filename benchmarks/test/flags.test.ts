import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { launch, ROOT, TSX_NODE_ARGS } from '@volley/runtime';
import { BENCH_CLI } from '../lib/args.ts';
import { flagLine } from '../lib/report.ts';
import { defineCli, flag, FlagError, parseFlags, usageText } from '../lib/flags.ts';
import { SHAPING_CLI } from '../lib/shaping-args.ts';
import { UPLOAD_CLI } from '../lib/upload-args.ts';

const TABLE = {
  quick: flag.switch('small run'),
  count: flag.int('N', 'how many', 1, 100).default(10),
  limit: flag.int('N', 'at least one', 1).defaultIs('count × 2'),
  mode: flag
    .custom('off|on', 'a mode', (text, name) => {
      if (text !== 'on' && text !== 'off') throw new FlagError(`--${name} must be off or on`);
      return text;
    })
    .bareMeans('on')
    .default('off'),
  names: flag.list('LIST', 'comma-separated names', (text) => text.toUpperCase()),
  'long-named-flag': flag.text('SOMETHING', 'first line\nsecond line'),
};

function refusal(argv: string[]): string {
  try {
    parseFlags(TABLE, argv);
  } catch (err) {
    assert.ok(err instanceof FlagError, String(err));
    return err.message;
  }
  assert.fail(`${argv.join(' ')} was accepted`);
}

describe('the flag parser', () => {
  test('absent flags take their default, or undefined where the command works one out', () => {
    assert.deepEqual(parseFlags(TABLE, []), {
      quick: false,
      count: 10,
      limit: undefined,
      mode: 'off',
      names: undefined,
      'long-named-flag': undefined,
    });
  });

  test('a value follows its flag or an equals sign; the last of a repeated flag wins', () => {
    const v = parseFlags(TABLE, ['--count', '5', '--limit=1_000', '--count=7', '--quick']);
    assert.notEqual(v, 'help');
    if (v === 'help') return;
    assert.equal(v.count, 7);
    assert.equal(v.limit, 1000);
    assert.equal(v.quick, true);
  });

  test('a flag with a bare meaning takes it when no value follows, and a value when one does', () => {
    const modeOf = (argv: string[]): unknown => {
      const v = parseFlags(TABLE, argv);
      return v === 'help' ? v : v.mode;
    };
    assert.equal(modeOf(['--mode']), 'on');
    assert.equal(modeOf(['--mode', '--quick']), 'on');
    assert.equal(modeOf(['--mode', 'off']), 'off');
    assert.equal(modeOf(['--mode=off']), 'off');
    assert.match(refusal(['--mode', 'maybe']), /--mode must be off or on/);
  });

  test('a list is split on commas and each item checked', () => {
    const v = parseFlags(TABLE, ['--names', 'a, b,c']);
    assert.deepEqual(v === 'help' ? v : v.names, ['A', 'B', 'C']);
  });

  test('numbers outside their range or not whole are refused with the range', () => {
    assert.equal(refusal(['--count', '0']), '--count="0" must be a whole number from 1 to 100');
    assert.equal(refusal(['--count=101']), '--count="101" must be a whole number from 1 to 100');
    assert.equal(refusal(['--count', '2.5']), '--count="2.5" must be a whole number from 1 to 100');
    assert.equal(refusal(['--count', 'x']), '--count="x" must be a whole number from 1 to 100');
    // A negative number is a value, not a flag, so its range is what refuses it.
    assert.equal(refusal(['--limit', '-3']), '--limit="-3" must be a whole number of at least 1');
  });

  test('an unknown flag, a positional argument, a value for a switch and a missing value are refused', () => {
    assert.equal(refusal(['--cuont', '5']), 'unknown flag --cuont');
    assert.equal(refusal(['--toString']), 'unknown flag --toString');
    assert.match(refusal(['stray']), /unexpected argument "stray"/);
    assert.match(refusal(['--quick', 'yes']), /unexpected argument "yes"/);
    assert.match(refusal(['-q']), /unexpected argument "-q"/);
    assert.match(refusal(['--', '--quick']), /unexpected argument "--"/);
    assert.equal(refusal(['--quick=1']), '--quick takes no value');
    assert.equal(refusal(['--count']), '--count needs a value (N)');
    assert.equal(refusal(['--count', '--quick']), '--count needs a value (N)');
  });

  test('--help or -h anywhere asks for the usage text', () => {
    assert.equal(parseFlags(TABLE, ['--help']), 'help');
    assert.equal(parseFlags(TABLE, ['--count', '5', '-h']), 'help');
  });

  test('the usage text lists every flag with its value, help and default, then --help', () => {
    const text = usageText('npm run demo', TABLE);
    assert.equal(
      text,
      [
        'Usage: npm run demo -- [flags]',
        '',
        '  --quick                 small run',
        '  --count N               how many (default 10)',
        '  --limit N               at least one (default count × 2)',
        '  --mode off|on           a mode (default off)',
        '  --names LIST            comma-separated names',
        '  --long-named-flag SOMETHING',
        '                          first line',
        '                          second line',
        '  --help                  this text',
        '',
      ].join('\n'),
    );
  });

  test('a command turns the parsed flags into its options, and its own check can refuse', () => {
    const cli = defineCli('npm run demo', TABLE, (v) => {
      if (v.limit !== undefined && v.limit < v.count) throw new FlagError('--limit below --count');
      return { total: v.limit ?? v.count * 2 };
    });
    assert.deepEqual(cli.parse(['--count', '4']), { total: 8 });
    assert.throws(() => cli.parse(['--count', '4', '--limit', '3']), /--limit below --count/);
    assert.equal(cli.parse(['-h']), 'help');
  });
});

describe('the benchmark commands', () => {
  test('npm run bench: the defaults of a reference run and of --quick', () => {
    assert.deepEqual(BENCH_CLI.parse([]), {
      quick: false,
      senders: 2,
      recipients: 100_000,
      domains: 20,
      size: 4096,
      reps: 3,
      naiveMessages: 30_000,
      wireMessages: 100_000,
      dkim: 'off',
      domainLimits: 'off',
      timeoutS: 120 + 100_000 / 500,
      out: 'benchmarks/results',
      profile: false,
      metricsAb: false,
      workload: 'uniform',
      tls: false,
    });
    assert.deepEqual(BENCH_CLI.parse(['--quick']), {
      quick: true,
      senders: 2,
      recipients: 20_000,
      domains: 20,
      size: 4096,
      reps: 1,
      naiveMessages: 10_000,
      // Never fewer than 50,000 wire messages, whatever the campaign size.
      wireMessages: 50_000,
      dkim: 'off',
      domainLimits: 'off',
      timeoutS: 120 + 50_000 / 500,
      out: 'benchmarks/results/tmp',
      profile: false,
      metricsAb: false,
      workload: 'uniform',
      tls: false,
    });
  });

  test('npm run bench --workload realistic: the default policy, a timeout for its limits', () => {
    const r = BENCH_CLI.parse(['--workload', 'realistic', '--quick']);
    assert.deepEqual(r === 'help' ? r : [r.workload, r.domainLimits, r.timeoutS], [
      'realistic',
      'on',
      // Held to the providers' limits: 10 ms per recipient instead of 2.
      120 + 20_000 / 100,
    ]);
    assert.throws(
      () => BENCH_CLI.parse(['--workload', 'realistic', '--domain-limits', 'off']),
      /--domain-limits on or a policy file/,
    );
    assert.throws(
      () => BENCH_CLI.parse(['--workload', 'realistic', '--metrics-ab']),
      /separate modes/,
    );
    assert.throws(() => BENCH_CLI.parse(['--workload', 'zipf']), /must be uniform or realistic/);
  });

  test('npm run bench --metrics-ab: three repetitions even with --quick, and never fewer', () => {
    const ab = BENCH_CLI.parse(['--metrics-ab', '--quick']);
    assert.deepEqual(ab === 'help' ? ab : [ab.metricsAb, ab.reps, ab.recipients], [
      true,
      3,
      20_000,
    ]);
    const five = BENCH_CLI.parse(['--metrics-ab', '--reps', '5']);
    assert.equal(five === 'help' ? five : five.reps, 5);
    assert.throws(
      () => BENCH_CLI.parse(['--metrics-ab', '--reps', '2']),
      /--metrics-ab needs --reps 3 or more/,
    );
  });

  test('npm run bench --tls: a mode of its own, apart from --metrics-ab and a realistic list', () => {
    const t = BENCH_CLI.parse(['--tls', '--quick']);
    assert.deepEqual(t === 'help' ? t : [t.tls, t.reps, t.recipients], [true, 1, 20_000]);
    assert.throws(() => BENCH_CLI.parse(['--tls', '--metrics-ab']), /--tls and --metrics-ab/);
    assert.throws(
      () => BENCH_CLI.parse(['--tls', '--workload', 'realistic']),
      /--tls and --workload realistic are separate modes/,
    );
  });

  test("a report's flag line names only the baselines its mode ran", () => {
    const line = (argv: string[]) => {
      const o = BENCH_CLI.parse(argv);
      assert.notEqual(o, 'help');
      return o === 'help' ? '' : flagLine(o);
    };
    assert.match(line([]), /--naive-messages 30000 --wire-messages 100000/);
    const tls = line(['--tls']);
    assert.match(tls, /--naive-messages 30000/);
    assert.doesNotMatch(tls, /--wire-messages/);
    for (const argv of [['--metrics-ab'], ['--workload', 'realistic']]) {
      assert.doesNotMatch(line(argv), /--naive-messages|--wire-messages/, argv.join(' '));
    }
  });

  test('npm run bench: --dkim and --domain-limits alone mean on, and take their words', () => {
    const o = (argv: string[]) => {
      const v = BENCH_CLI.parse(argv);
      assert.notEqual(v, 'help');
      return v === 'help' ? assert.fail() : v;
    };
    assert.equal(o(['--dkim']).dkim, 'rsa');
    assert.equal(o(['--dkim', '--quick']).quick, true);
    assert.equal(o(['--dkim', 'ed25519']).dkim, 'ed25519');
    assert.equal(o(['--dkim=no']).dkim, 'off');
    assert.equal(o(['--domain-limits']).domainLimits, 'on');
    assert.equal(o(['--domain-limits', 'default']).domainLimits, 'on');
    assert.equal(o(['--domain-limits', 'package.json']).domainLimits, `${ROOT}/package.json`);
    assert.throws(() => BENCH_CLI.parse(['--domain-limits', 'no-such-policy.yaml']), FlagError);
    assert.equal(o(['--senders', '64', '--recipients', '1_000_000']).recipients, 1_000_000);
    assert.throws(() => BENCH_CLI.parse(['--senders', '65']), /from 1 to 64/);
    assert.throws(() => BENCH_CLI.parse(['--size', '511']), /from 512 to 1048576/);
  });

  test('npm run bench:upload: defaults, and formats checked and given once each', () => {
    assert.deepEqual(UPLOAD_CLI.parse([]), {
      quick: false,
      rows: 1_000_000,
      reps: 3,
      formats: ['ndjson', 'csv'],
      timeoutS: 60 + 100,
      out: 'benchmarks/results',
      profile: false,
    });
    const quick = UPLOAD_CLI.parse(['--quick', '--formats', 'CSV, csv']);
    assert.deepEqual(quick === 'help' ? quick : [quick.rows, quick.formats, quick.out], [
      200_000,
      ['csv'],
      'benchmarks/results/tmp',
    ]);
    assert.throws(() => UPLOAD_CLI.parse(['--formats', 'ndjson,xml']), /"xml" is neither/);
    assert.throws(() => UPLOAD_CLI.parse(['--rows', '999']), /from 1000 to 20000000/);
  });

  test('npm run bench:shaping: defaults, and the timeout follows the duration', () => {
    assert.deepEqual(SHAPING_CLI.parse([]), {
      quick: false,
      senders: 4,
      durationS: 75,
      bulkPerSecond: 150,
      timeoutS: 195,
      out: 'benchmarks/results',
    });
    assert.deepEqual(SHAPING_CLI.parse(['--quick', '--duration', '600']), {
      quick: true,
      senders: 4,
      durationS: 600,
      bulkPerSecond: 100,
      timeoutS: 720,
      out: 'benchmarks/results/tmp',
    });
    assert.throws(() => SHAPING_CLI.parse(['--duration', '29']), /from 30 to 600/);
  });
});

describe('every benchmark entry point', () => {
  const run = async (script: string, argv: string[]) => {
    const p = launch('bench', process.execPath, [...TSX_NODE_ARGS, script, ...argv], {
      cwd: ROOT,
    });
    const out = { stdout: '', stderr: '' };
    p.child.stdout?.on('data', (b: Buffer) => (out.stdout += b.toString()));
    p.child.stderr?.on('data', (b: Buffer) => (out.stderr += b.toString()));
    return { code: await p.exited, ...out };
  };
  for (const [script, command] of [
    ['benchmarks/run.ts', 'npm run bench'],
    ['benchmarks/batch-size.ts', 'npm run bench:batch'],
    ['benchmarks/upload.ts', 'npm run bench:upload'],
    ['benchmarks/shaping.ts', 'npm run bench:shaping'],
    ['benchmarks/runtime.ts', 'npm run bench:runtime'],
  ] as const) {
    test(`${command}: --help prints the usage and exits 0; a wrong flag exits 2 with what is wrong and the usage`, async () => {
      const help = await run(script, ['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^Usage: ${command} -- \\[flags\\]\\n`));
      const wrong = await run(script, ['--no-such-flag']);
      assert.equal(wrong.code, 2);
      assert.equal(wrong.stdout, '');
      assert.match(wrong.stderr, /^unknown flag --no-such-flag\n\nUsage: /);
    });
  }
});
