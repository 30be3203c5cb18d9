/**
 * `volley dkim keygen DOMAIN SELECTOR`: a DKIM key pair made as `volley domain add` makes them
 * (@volley/domains), the private key written to a file only its owner can read, and the TXT
 * record that publishes the public key. For keys kept in files (VOLLEY_DKIM_KEYS) or another
 * signer; the admin API generates and keeps its own.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DomainError,
  dkimRecordValue,
  generateDkimKey,
  privateKeyPem,
  type DkimKeyType,
} from '@volley/domains';
import type { CommandContext, Exit } from '../context.ts';
import { CliError, UsageError } from '../output.ts';
import { domainName, txtStrings, zoneValue } from './command.ts';
import { dkimName } from './dkim.ts';

export interface KeygenOptions {
  type: DkimKeyType;
  bits?: number;
  out?: string;
  json: boolean;
}

/** RFC 6376 3.1: a selector is dot-separated labels. */
const SELECTOR = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function keygenCommand(
  ctx: CommandContext,
  domainArg: string,
  selector: string,
  o: KeygenOptions,
): Exit {
  const out = ctx.output(o.json);
  const domain = domainName('DOMAIN', domainArg);
  if (!SELECTOR.test(selector))
    throw new UsageError(
      `SELECTOR ${JSON.stringify(selector)} is not a DNS label (letters, digits, hyphens)`,
    );
  if (o.bits !== undefined && o.type !== 'rsa')
    throw new UsageError('--bits is for RSA keys; an Ed25519 key has no size to choose');
  let pair;
  try {
    pair = generateDkimKey(o.type, o.bits);
  } catch (err) {
    if (err instanceof DomainError) throw new UsageError(`--bits: ${err.message}`);
    throw err;
  }
  const file = resolve(o.out ?? `${domain}.${selector}.dkim.pem`);
  try {
    // wx: never replace a key that may already be published and signing; 0600: owner only.
    writeFileSync(file, privateKeyPem(pair.privateDer), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EEXIST')
      throw new CliError(
        `${file} exists; not overwriting a key (give another --out)`,
        'CLI_EXISTS',
      );
    throw new CliError(
      `cannot write ${file}: ${err instanceof Error ? err.message : String(err)}`,
      'CLI_WRITE',
    );
  }
  const record = {
    type: 'TXT' as const,
    name: dkimName(selector, domain),
    value: dkimRecordValue(pair.keyType, pair.publicKey),
  };
  out.emit(
    {
      type: 'dkim-key',
      domain,
      selector,
      keyType: pair.keyType,
      ...(pair.bits === undefined ? {} : { bits: pair.bits }),
      file,
      record: { ...record, strings: txtStrings(record.value) },
    },
    () => [
      `wrote the ${pair.keyType === 'rsa' ? `RSA ${pair.bits ?? ''}-bit` : 'Ed25519'} private key to ${file} (mode 0600: keep it secret)`,
      `use it with VOLLEY_DKIM_KEYS=${domain}:${selector}:${file}`,
      'publish:',
      `  ${record.type} ${record.name}`,
      `  ${zoneValue(record)}`,
    ],
  );
  return 0;
}
