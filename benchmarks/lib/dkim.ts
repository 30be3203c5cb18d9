/**
 * `--dkim`: a fresh key for the run, handed to the senders through `VOLLEY_DKIM_KEYS`, to the
 * naive loop through nodemailer's own DKIM option, and used to sign the wire baseline's message,
 * so all three move signed messages of the same size.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadSenderConfig } from '@volley/config';
import { DkimSigner } from '@volley/message';
import type { DkimMode } from './args.ts';
import { FROM_DOMAIN } from './workload.ts';

/** The campaign's From domain: the senders pick keys by it. */
const DKIM_DOMAIN = FROM_DOMAIN;
const DKIM_SELECTOR = 'bench';

export interface DkimSetup {
  mode: Exclude<DkimMode, 'off'>;
  /** The senders sign: their configuration accepts `VOLLEY_DKIM_KEYS`. */
  available: boolean;
  /** Why it is not available, for the report. */
  reason?: string;
  senderEnv: Record<string, string>;
  /** nodemailer signs RSA only: with Ed25519 the naive loop sends unsigned messages. */
  naive?: { domainName: string; keySelector: string; privateKey: string };
  signer: DkimSigner;
}

export function prepareDkim(mode: Exclude<DkimMode, 'off'>, workDir: string): DkimSetup {
  // RSA 2048 is what receivers expect and what most senders use; Ed25519 (RFC 8463) is optional.
  const { privateKey } =
    mode === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keyPath = join(workDir, `dkim-${mode}.pem`);
  writeFileSync(keyPath, pem, { mode: 0o600 });
  const senderEnv = { VOLLEY_DKIM_KEYS: `${DKIM_DOMAIN}:${DKIM_SELECTOR}:${keyPath}` };
  let available = false;
  let reason: string | undefined;
  try {
    // The senders' own parser decides: a version without DKIM has no `dkimKeys` to fill.
    const cfg = loadSenderConfig({ REDIS_URL: 'redis://127.0.0.1:6379', ...senderEnv });
    available = 'dkimKeys' in cfg && Array.isArray(cfg.dkimKeys) && cfg.dkimKeys.length === 1;
    if (!available) reason = 'the sender configuration has no VOLLEY_DKIM_KEYS';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    reason = err.message;
  }
  const setup: DkimSetup = {
    mode,
    available,
    senderEnv: available ? senderEnv : {},
    signer: new DkimSigner([{ domain: DKIM_DOMAIN, selector: DKIM_SELECTOR, privateKey: pem }]),
  };
  if (reason !== undefined) setup.reason = reason;
  if (mode === 'rsa')
    setup.naive = { domainName: DKIM_DOMAIN, keySelector: DKIM_SELECTOR, privateKey: pem };
  return setup;
}
