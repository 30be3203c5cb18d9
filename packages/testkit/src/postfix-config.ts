/**
 * The files and folders of a private Postfix instance (see `postfix.ts`): main.cf, master.cf
 * and the transport map written from the test's options, checked first so that a bad option
 * fails before anything is created or started.
 */
import { accessSync, chmodSync, chownSync, constants, mkdirSync } from 'node:fs';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export type PostfixErrorCode =
  'POSTFIX_NOT_INSTALLED' | 'POSTFIX_NEEDS_ROOT' | 'POSTFIX_BAD_OPTION' | 'POSTFIX_START_FAILED';

export class PostfixError extends Error {
  constructor(
    readonly code: PostfixErrorCode,
    message: string,
    /** Start-up lost its port to another process; another port may work. */
    readonly portTaken = false,
  ) {
    super(message);
    this.name = 'PostfixError';
  }
}

/** The next hop for an SMTP server of the test on 127.0.0.1. */
export function loopbackNexthop(port: number): string {
  return `smtp:[127.0.0.1]:${port}`;
}

const DOMAIN = /^\.?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;
const SMTP_NEXTHOP = /^(?:smtp|relay):\[127\.(?:\d{1,3}\.){2}\d{1,3}\]:(\d{1,5})$/;
const LOCAL_NEXTHOP = /^(?:error|discard):[^\r\n]*$/;
const SETTING = /^[a-z][a-z0-9_]*$/;

function bad(message: string): never {
  throw new PostfixError('POSTFIX_BAD_OPTION', message);
}

/** The transport(5) table for `{domain: nexthop}`; throws POSTFIX_BAD_OPTION for a bad entry. */
export function transportTable(transport: Record<string, string>): string {
  const entries = Object.entries(transport);
  if (entries.length === 0) bad('transport maps no domain: give at least one domain → next hop');
  return entries
    .map(([domain, nexthop]) => {
      if (!DOMAIN.test(domain)) bad(`transport: "${domain}" is not a domain name`);
      const smtp = SMTP_NEXTHOP.exec(nexthop);
      if (smtp) {
        const port = Number(smtp[1]);
        // Port 25 on this machine is the system's mail server, never a server of the test.
        if (port < 1 || port > 65535 || port === 25)
          bad(`transport: ${domain} → ${nexthop}: give the port of the test's own server`);
      } else if (!LOCAL_NEXTHOP.test(nexthop)) {
        bad(
          `transport: ${domain} → "${nexthop}" is not smtp:[127.0.0.1]:PORT (a literal loopback ` +
            'address and the port of a server of the test), error:TEXT or discard:',
        );
      }
      return `${domain} ${nexthop}\n`;
    })
    .join('');
}

/** The test's own main.cf settings, checked; throws POSTFIX_BAD_OPTION. */
export function checkSettings(mainCf: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(mainCf)) {
    if (!SETTING.test(k)) bad(`mainCf: "${k}" is not a main.cf parameter name`);
    if (/[\r\n]/.test(v)) bad(`mainCf: the value of ${k} holds a line break`);
  }
  return mainCf;
}

/** A fully qualified host name for the instance; throws POSTFIX_BAD_OPTION. */
export function checkHostname(name: string): string {
  if (!DOMAIN.test(name) || name.startsWith('.') || !name.includes('.'))
    bad(`myhostname: "${name}" is not a fully qualified host name`);
  return name;
}

export interface PostfixCommands {
  postfix: string;
  postqueue: string;
}

/** Postfix's commands, from PATH or where Debian installs them. */
export function findPostfix(): PostfixCommands {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin'];
  for (const d of dirs) {
    try {
      accessSync(join(d, 'postfix'), constants.X_OK);
      return {
        postfix: join(d, 'postfix'),
        postqueue: join(d, 'postqueue'),
      };
    } catch {
      // Not in this folder.
    }
  }
  throw new PostfixError(
    'POSTFIX_NOT_INSTALLED',
    'Postfix is not installed: run `apt-get install -y postfix` (answer "No configuration"; ' +
      'the system instance need not run). Tests start their own instance on a loopback port.',
  );
}

/**
 * Only the daemons a relay needs, none chrooted (a chroot would need copies of /etc files in
 * the queue folder). No local, virtual or lmtp: nothing is delivered on this machine. pickup
 * only so that `postqueue -f` (flush), which wakes it, succeeds: nothing is ever dropped in
 * maildrop. postlog writes `maillog_file`; showq answers `postqueue`.
 */
function masterCf(port: number): string {
  return `127.0.0.1:${port} inet n - n - - smtpd
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
pickup    unix  n - n 60   1 pickup
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`;
}

function mainCf(dir: string, myhostname: string, extra: Record<string, string>): string {
  const settings: Record<string, string> = {
    // Today's defaults, without warnings about older ones (Postfix 3.6 or later; Debian 12
    // has 3.7).
    compatibility_level: '3.6',
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    maillog_file: join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname,
    mydomain: myhostname.slice(myhostname.indexOf('.') + 1),
    myorigin: '$myhostname',
    // The folder's name in the banner tells start-up that the port answers for this instance.
    smtpd_banner: `$myhostname ESMTP ${basename(dir)}`,
    // Nothing is local: every domain is relayed by the transport map or bounced.
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    local_transport: 'error:5.1.1 local delivery is disabled in this test instance',
    relay_domains: '',
    mynetworks: '127.0.0.0/8',
    transport_maps: `texthash:${join(dir, 'etc', 'transport')}`,
    default_transport: 'error:5.1.2 no route to this domain in the test transport map',
    // No DNS anywhere: literal next hops, no MX lookups, no reverse lookup of clients.
    smtp_dns_support_level: 'disabled',
    smtpd_peername_lookup: 'no',
    // Relay mail as a mail exchanger relays mail from the Internet: add a Received header and
    // change nothing else (by default Postfix edits headers of mail from its own addresses).
    local_header_rewrite_clients: '',
    // Deferred mail is retried every second rather than after 5 to 67 minutes.
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '1s',
    biff: 'no',
    ...extra,
  };
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}\n`)
    .join('');
}

/** A user's or group's numeric id from /etc/passwd or /etc/group, or undefined. */
function idOf(file: '/etc/passwd' | '/etc/group', name: string): number | undefined {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    const id = Number(line?.split(':')[2]);
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the queue and data folders as Postfix's own list (postfix-files) describes them, then
 * marks the queue "quick-start" so that postfix-script skips its integrity checks: on a fresh,
 * empty queue they only re-check what was just made, and took about 1 s of a 1.2 s start here
 * (0.15-0.3 s without them). Without the list, the postfix user or the postdrop group,
 * postfix-script creates the folders itself, just more slowly.
 */
function prepareFolders(queueDir: string, dataDir: string): void {
  mkdirSync(queueDir);
  let list: string;
  try {
    list = readFileSync('/etc/postfix/postfix-files', 'utf8');
  } catch {
    return;
  }
  const owner = idOf('/etc/passwd', 'postfix');
  const group = idOf('/etc/group', 'postdrop');
  if (owner === undefined || group === undefined) return;
  const roots = { $queue_directory: queueDir, $data_directory: dataDir };
  let made = 0;
  for (const line of list.split('\n')) {
    // path:type:owner:group:mode:flags, e.g. $queue_directory/public:d:$mail_owner:$setgid_group:710:uc
    const [path = '', type, user, grp, mode = '', flags = ''] = line.split(':');
    const [root = '', ...rest] = path.split('/');
    const base = roots[root as keyof typeof roots];
    if (base === undefined || type !== 'd' || !flags.includes('c')) continue;
    const target = join(base, ...rest);
    mkdirSync(target, { recursive: true });
    chownSync(target, user === '$mail_owner' ? owner : 0, grp === '$setgid_group' ? group : 0);
    chmodSync(target, parseInt(mode, 8));
    made++;
  }
  if (made > 0) writeFileSync(join(queueDir, 'quick-start'), '');
}

/**
 * Writes the instance's configuration and folders under `dir` (which must exist and be
 * reachable by the postfix user).
 */
export function writeInstance(
  dir: string,
  port: number,
  myhostname: string,
  transport: string,
  extra: Record<string, string>,
): void {
  const configDir = join(dir, 'etc');
  mkdirSync(configDir);
  prepareFolders(join(dir, 'queue'), join(dir, 'data'));
  const files = {
    'main.cf': mainCf(dir, myhostname, extra),
    'master.cf': masterCf(port),
    transport,
  };
  // Postfix re-reads a configuration file whose modification time is within the last second
  // ("pausing to let main.cf cool down", 300 ms a round), which took 2.4 s of each start here.
  // These files are complete when written, so they are dated a minute back.
  const past = new Date(Date.now() - 60_000);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(configDir, name), text);
    utimesSync(join(configDir, name), past, past);
  }
}
