/**
 * The `volley` command line: its commands, options and help (commander), and the mapping of
 * outcomes to exit status: 0 done, 1 failed, 2 wrong usage (130 when Ctrl-C stopped a watch).
 */
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as admin from './admin.ts';
import * as campaign from './campaign.ts';
import type { Env } from './config.ts';
import type { CommandContext, Interrupts } from './context.ts';
import { dnsCheckCommand, type DnsCheckOptions } from './dns/command.ts';
import { keygenCommand, type KeygenOptions } from './dns/keygen.ts';
import { CliError, Output, UsageError, type Streams } from './output.ts';
import * as suppression from './suppression.ts';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number above 0`);
    return n;
  };
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

function isoDate(v: string): string {
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new InvalidArgumentError('is not a date (ISO 8601, such as 2026-05-01T00:00:00Z)');
  return new Date(t).toISOString();
}

function statusList(v: string, prev: string[]): string[] {
  if (!(campaign.STATUSES as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`is one of ${campaign.STATUSES.join(', ')}`);
  }
  return [...prev, v];
}

// No default value for the repeatable options: commander would print "(default: [])" in --help.
function ipList(v: string, prev: string[] | undefined): string[] {
  if (isIP(v) === 0) throw new InvalidArgumentError('is not an IP address');
  return [...(prev ?? []), v];
}

const repeated = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** The --json flag, wherever on the line it was given. */
function json(cmd: Command): boolean {
  return cmd.optsWithGlobals<{ json?: boolean }>().json === true;
}

const ENV_HELP = `
Environment:
  VOLLEY_API_URL    the API (default: the one \`npm start\` runs here, from .volley/engine.json)
  VOLLEY_API_KEY    a tenant's key (default: the local engine's)
  VOLLEY_ADMIN_KEY  the admin key, for the tenant, key and domain commands
  VOLLEY_LOCAL_DIR  the local engine's state folder (default .volley)
  VOLLEY_DNS_SERVERS    dns check: DNS servers, ip or ip:port, comma-separated (default: the system's)
  VOLLEY_BOUNCE_DOMAIN  dns check: the return path's domain, whose MX must reach the bounce service
  VOLLEY_BOUNCE_MX      dns check: the host that MX names (default: the bounce domain)
  VOLLEY_DKIM_KEYS      dns check: domain:selector:/path/key.pem, the keys to compare with
  NO_COLOR          no colours in a terminal

Exit status: 0 done, 1 failed, 2 wrong usage, 130 interrupted.
Piped, or with --json, every command prints JSON lines on stdout and no escape codes.`;

function build(ctx: CommandContext, state: { exit: number }): Command {
  /** Keeps the exit status an action resolves to (commander drops it). */
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      state.exit = await fn(...args);
    };
  const program = new Command('volley')
    .description(
      "Volley's command line: campaigns, suppressions, tenants and keys over the REST API; DNS and DKIM checks",
    )
    .option('--json', 'print JSON lines (the default when stdout is not a terminal)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.streams.stdout.write(s),
      writeErr: (s) => ctx.streams.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', ENV_HELP);

  const c = program.command('campaign').description('send, watch and manage campaigns');
  const interval = new Option('--interval <ms>', 'how often to poll the campaign')
    .default(1000)
    .argParser(positiveInt('--interval'));
  c.command('send')
    .description(
      'create a campaign from a definition file, stream its recipients, optionally start and watch it',
    )
    .argument(
      '<campaign.yaml>',
      'from, subject, html/text (or htmlFile/textFile), replyTo, headers, sendAt, requiredVars',
    )
    .requiredOption('--recipients <file>', 'recipient list: CSV with an email column, or NDJSON')
    .addOption(
      new Option(
        '--format <format>',
        'format of the recipient file (default: from its extension)',
      ).choices(['csv', 'ndjson']),
    )
    .option(
      '--max-invalid <n>',
      'invalid rows tolerated before the upload is refused',
      nonNegativeInt,
    )
    .option('--start', 'start the campaign once its recipients are in')
    .option('--watch', 'then watch it until it ends (Ctrl-C stops watching, not the campaign)')
    .addOption(interval)
    .action(
      act((file: string, o: campaign.SendOptions, cmd: Command) =>
        campaign.sendCommand(ctx, file, { ...o, json: json(cmd) }),
      ),
    );
  c.command('upload')
    .description('stream recipients into a draft or scheduled campaign')
    .argument('<id>')
    .requiredOption('--recipients <file>', 'CSV or NDJSON')
    .addOption(new Option('--format <format>').choices(['csv', 'ndjson']))
    .option('--max-invalid <n>', 'invalid rows tolerated', nonNegativeInt)
    .action(
      act((id: string, o: campaign.UploadOptions, cmd: Command) =>
        campaign.uploadCommand(ctx, id, { ...o, json: json(cmd) }),
      ),
    );
  c.command('watch')
    .description(
      'live progress until the campaign ends; Ctrl-C stops watching and leaves it running',
    )
    .argument('<id>')
    .addOption(interval)
    .action(
      act((id: string, o: { interval: number }, cmd: Command) =>
        campaign.watchCommand(ctx, id, { ...o, json: json(cmd) }),
      ),
    );
  c.command('list')
    .description('your campaigns, newest first')
    .option(
      '--status <status>',
      `only this status (repeat for several): ${campaign.STATUSES.join(', ')}`,
      statusList,
      [],
    )
    .option('--created-after <time>', 'only campaigns created after this time', isoDate)
    .option('--created-before <time>', 'only campaigns created before this time', isoDate)
    .option('--limit <n>', 'campaigns a page', positiveInt('--limit'), 20)
    .option('--cursor <cursor>', 'the page after this cursor (as a previous list printed it)')
    .option('--all', 'every page')
    .action(
      act((o: campaign.ListOptions, cmd: Command) =>
        campaign.listCommand(ctx, { ...o, json: json(cmd) }),
      ),
    );
  c.command('show')
    .description('a campaign and its counts')
    .argument('<id>')
    .action(
      act((id: string, _o: unknown, cmd: Command) =>
        campaign.showCommand(ctx, id, { json: json(cmd) }),
      ),
    );
  c.command('stats')
    .description('progress, rate, ETA and outcomes by reason')
    .argument('<id>')
    .action(
      act((id: string, _o: unknown, cmd: Command) =>
        campaign.statsCommand(ctx, id, { json: json(cmd) }),
      ),
    );
  c.command('events')
    .description('per-recipient outcomes, oldest first')
    .argument('<id>')
    .option('--limit <n>', 'at most this many events', positiveInt('--limit'))
    .action(
      act((id: string, o: { limit?: number }, cmd: Command) =>
        campaign.eventsCommand(ctx, id, { ...o, json: json(cmd) }),
      ),
    );
  for (const action of ['start', 'pause', 'resume', 'cancel'] as const) {
    c.command(action)
      .description(`${action} a campaign`)
      .argument('<id>')
      .action(
        act((id: string, _o: unknown, cmd: Command) =>
          campaign.actionCommand(ctx, action, id, { json: json(cmd) }),
        ),
      );
  }

  const s = program.command('suppression').description("the tenant's suppression list");
  const source = () =>
    new Option('--source <source>', 'only this source').choices(suppression.SOURCES);
  s.command('list')
    .description('suppressed addresses, oldest first')
    .option('--reason <reason>', 'only this reason')
    .addOption(source())
    .option('--limit <n>', 'entries a page', positiveInt('--limit'), 100)
    .option('--all', 'every page')
    .action(
      act((o: suppression.FilterOptions & { limit: number; all?: boolean }, cmd: Command) =>
        suppression.listCommand(ctx, { ...o, json: json(cmd) }),
      ),
    );
  s.command('add')
    .description('suppress addresses')
    .argument('<email...>')
    .option('--reason <reason>', 'stored with each entry', 'manual')
    .action(
      act((emails: string[], o: { reason?: string }, cmd: Command) =>
        suppression.addCommand(ctx, emails, { ...o, json: json(cmd) }),
      ),
    );
  s.command('remove')
    .description('take an address off the list')
    .argument('<email>')
    .action(
      act((email: string, _o: unknown, cmd: Command) =>
        suppression.removeCommand(ctx, email, { json: json(cmd) }),
      ),
    );
  s.command('import')
    .description('stream a CSV (email column; reason, source, date optional) into the list')
    .argument('<file.csv>')
    .option('--reason <reason>', 'reason of rows without one')
    .addOption(source())
    .option('--max-invalid <n>', 'invalid rows tolerated', nonNegativeInt)
    .action(
      act((file: string, o: suppression.FilterOptions & { maxInvalid?: number }, cmd: Command) =>
        suppression.importCommand(ctx, file, { ...o, json: json(cmd) }),
      ),
    );
  s.command('export')
    .description('the list as CSV, on stdout or into a file')
    .option('--reason <reason>', 'only this reason')
    .addOption(source())
    .option('-o, --output <file>', 'write here instead of stdout')
    .action(
      act((o: suppression.FilterOptions & { output?: string }, cmd: Command) =>
        suppression.exportCommand(ctx, { ...o, json: json(cmd) }),
      ),
    );

  const t = program.command('tenant').description('tenants (admin API, VOLLEY_ADMIN_KEY)');
  t.command('create')
    .description('create a tenant')
    .argument('<id>')
    .option('-n, --name <name>', 'a display name')
    .action(
      act((id: string, o: { name?: string }, cmd: Command) =>
        admin.tenantCreate(ctx, id, { ...o, json: json(cmd) }),
      ),
    );
  t.command('list')
    .description('every tenant')
    .action(act((_o: unknown, cmd: Command) => admin.tenantList(ctx, { json: json(cmd) })));

  const k = program.command('key').description("tenants' API keys (admin API, VOLLEY_ADMIN_KEY)");
  k.command('create')
    .description('create a key; printed once')
    .argument('<tenant>')
    .option('-n, --name <name>', 'a display name')
    .action(
      act((tenant: string, o: { name?: string }, cmd: Command) =>
        admin.keyCreate(ctx, tenant, { ...o, json: json(cmd) }),
      ),
    );
  k.command('list')
    .description("a tenant's keys (ids and names, never the keys)")
    .argument('<tenant>')
    .action(
      act((tenant: string, _o: unknown, cmd: Command) =>
        admin.keyList(ctx, tenant, { json: json(cmd) }),
      ),
    );
  k.command('revoke')
    .description('revoke a key; it stops working on its next request')
    .argument('<keyId>')
    .action(
      act((keyId: string, _o: unknown, cmd: Command) =>
        admin.keyRevoke(ctx, keyId, { json: json(cmd) }),
      ),
    );

  const d = program
    .command('domain')
    .description("tenants' sending domains and DKIM keys (admin API, VOLLEY_ADMIN_KEY)");
  d.command('add')
    .description('add a sending domain; prints the DNS records to publish')
    .argument('<tenant>')
    .argument('<domain>')
    .option('--selector <selector>', 'DKIM selector')
    .addOption(new Option('--key-type <type>', 'DKIM key type').choices(['rsa', 'ed25519']))
    .action(
      act(
        (
          tenant: string,
          domain: string,
          o: { selector?: string; keyType?: 'rsa' | 'ed25519' },
          cmd: Command,
        ) => admin.domainAdd(ctx, tenant, domain, { ...o, json: json(cmd) }),
      ),
    );
  d.command('list')
    .description("a tenant's sending domains")
    .argument('<tenant>')
    .action(
      act((tenant: string, _o: unknown, cmd: Command) =>
        admin.domainList(ctx, tenant, { json: json(cmd) }),
      ),
    );
  d.command('remove')
    .description('remove a sending domain and its keys')
    .argument('<tenant>')
    .argument('<domain>')
    .action(
      act((tenant: string, domain: string, _o: unknown, cmd: Command) =>
        admin.domainRemove(ctx, tenant, domain, { json: json(cmd) }),
      ),
    );

  const dns = program.command('dns').description("a sending domain's DNS records");
  dns
    .command('check')
    .description(
      'MX, SPF, DKIM, DMARC, reverse DNS, MTA-STS, TLS-RPT and the bounce MX of a From domain: pass, warn or fail, and the record to publish; exit 1 if any fails',
    )
    .argument('<domain>', 'the From domain')
    .option('--ip <address>', 'a sending IP address (repeat for several)', ipList)
    .option(
      '--selector <selector>',
      'a DKIM selector (repeat; default: the ones Volley signs with, from --tenant or VOLLEY_DKIM_KEYS)',
      repeated,
    )
    .option(
      '--tenant <tenant>',
      "compare with the tenant's sending domain: its selectors, keys and bounce MX (admin API, VOLLEY_ADMIN_KEY)",
    )
    .option(
      '--bounce-domain <domain>',
      "the return path's domain (default: the API's with --tenant, else VOLLEY_BOUNCE_DOMAIN)",
    )
    .option(
      '--bounce-host <host>',
      "the host the bounce domain's MX must name (default: VOLLEY_BOUNCE_MX, else the bounce domain)",
    )
    .option(
      '--dns-server <ip[:port]>',
      "ask this DNS server (repeat; default: VOLLEY_DNS_SERVERS, else the system's)",
      repeated,
    )
    .action(
      act((domain: string, o: Omit<DnsCheckOptions, 'json'>, cmd: Command) =>
        dnsCheckCommand(ctx, domain, { ...o, json: json(cmd) }),
      ),
    );

  const dkim = program.command('dkim').description('DKIM keys');
  dkim
    .command('keygen')
    .description(
      'make a DKIM key pair: the private key into a new file (mode 0600), the TXT record to publish on stdout',
    )
    .argument('<domain>', 'the signing domain (d=)')
    .argument('<selector>', 'the selector (s=)')
    .addOption(new Option('--type <type>', 'key type').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--bits <bits>', 'RSA key size, 2048 to 4096 (default 2048)', positiveInt('--bits'))
    .option('--out <file>', 'where to write the private key (default <domain>.<selector>.dkim.pem)')
    .action(
      act((domain: string, selector: string, o: Omit<KeygenOptions, 'json'>, cmd: Command) =>
        Promise.resolve(keygenCommand(ctx, domain, selector, { ...o, json: json(cmd) })),
      ),
    );

  return program;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function runCli(
  argv: string[],
  streams: Streams,
  env: Env,
  interrupts: Interrupts,
): Promise<number> {
  const ctx: CommandContext = {
    env,
    streams,
    interrupts,
    output: (asJson) => new Output(streams, { json: asJson, env }),
  };
  const state = { exit: 0 };
  const program = build(ctx, state);
  const wantsJson = argv.includes('--json') || streams.stdout.isTTY !== true;
  const report = (code: string, message: string): void => {
    if (wantsJson) streams.stderr.write(`${JSON.stringify({ type: 'error', code, message })}\n`);
    else streams.stderr.write(`volley: ${message}\n`);
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      report('CLI_USAGE', `${err.message} (add --help for usage)`);
      return 2;
    }
    if (err instanceof CliError) {
      report(err.code, err.message);
      return 1;
    }
    report('CLI_UNEXPECTED', err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
  return state.exit;
}
