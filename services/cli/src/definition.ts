/**
 * A campaign definition file (YAML, or JSON which is YAML too): what POST /v1/campaigns takes,
 * with the templates inline or in files beside it (`htmlFile`, `textFile`, relative to it).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { CliError } from './output.ts';

export interface CampaignDefinition {
  from: string;
  subject: string;
  html?: string;
  text?: string;
  replyTo?: string;
  headers?: Record<string, string>;
  sendAt?: string;
  requiredVars?: string[];
}

const STRINGS = ['from', 'subject', 'html', 'text', 'replyTo', 'sendAt'] as const;
const FILES = { htmlFile: 'html', textFile: 'text' } as const;
const KNOWN = new Set<string>([...STRINGS, ...Object.keys(FILES), 'headers', 'requiredVars']);

function fail(file: string, message: string): never {
  throw new CliError(`${file}: ${message}`, 'CLI_BAD_DEFINITION');
}

export function readDefinition(file: string): CampaignDefinition {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(file, err instanceof Error ? err.message : String(err));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(file, 'is not a mapping of fields (from, subject, html or text, ...)');
  }
  const doc = raw as Record<string, unknown>;
  const unknown = Object.keys(doc).filter((k) => !KNOWN.has(k));
  if (unknown.length) {
    fail(file, `unknown field ${unknown.join(', ')}; fields are ${[...KNOWN].join(', ')}`);
  }
  const def: Record<string, unknown> = {};
  for (const k of STRINGS) {
    const v = doc[k];
    if (v === undefined) continue;
    if (k === 'sendAt' && v instanceof Date) def[k] = v.toISOString();
    else if (typeof v !== 'string') fail(file, `${k} must be a string`);
    else def[k] = v;
  }
  for (const [k, field] of Object.entries(FILES)) {
    const v = doc[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') fail(file, `${k} must be a file name`);
    if (def[field] !== undefined) fail(file, `give ${field} or ${k}, not both`);
    const path = resolve(dirname(file), v);
    try {
      def[field] = readFileSync(path, 'utf8');
    } catch (err) {
      fail(
        file,
        `${k}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  if (doc.headers !== undefined) {
    const h = doc.headers;
    if (typeof h !== 'object' || h === null || Array.isArray(h))
      fail(file, 'headers must be a mapping');
    for (const [name, value] of Object.entries(h)) {
      if (typeof value !== 'string') fail(file, `headers.${name} must be a string`);
    }
    def.headers = h;
  }
  if (doc.requiredVars !== undefined) {
    const r = doc.requiredVars;
    if (!Array.isArray(r) || !r.every((x) => typeof x === 'string')) {
      fail(file, 'requiredVars must be a list of variable names');
    }
    def.requiredVars = r;
  }
  if (typeof def.from !== 'string') fail(file, 'from is missing');
  if (typeof def.subject !== 'string') fail(file, 'subject is missing');
  if (def.html === undefined && def.text === undefined)
    fail(file, 'give html, text (or htmlFile, textFile)');
  return def as unknown as CampaignDefinition;
}
