/**
 * Where the API is and which key to send: VOLLEY_API_URL and VOLLEY_API_KEY (VOLLEY_ADMIN_KEY
 * for the admin commands), or else the running local engine's (`npm start` writes its API URL
 * and key to .volley/engine.json, readable by its owner only), so that `npm start` and then
 * `npm run volley -- campaign list` needs no setup.
 */
import { createVolleyClient, type VolleyClient } from '@volley/api-client';
import { localStateDir, runningEngine } from '@volley/runtime';
import { CliError } from './output.ts';

export type Env = Record<string, string | undefined>;

export interface Target {
  baseUrl: string;
  key: string;
  /** Where the values came from, for error messages. */
  source: string;
}

function engineOrFail(env: Env, missing: string) {
  const engine = runningEngine(localStateDir(env));
  if (!engine?.apiUrl) {
    throw new CliError(
      `${missing} is not set and no local engine runs with state in ${localStateDir(env)}: ` +
        'start one with `npm start`, or set VOLLEY_API_URL and VOLLEY_API_KEY',
    );
  }
  return engine;
}

/** The API and a tenant key, from the environment or the local engine. */
export function apiTarget(env: Env): Target {
  const url = env.VOLLEY_API_URL?.trim();
  const key = env.VOLLEY_API_KEY?.trim();
  if (url && key) return { baseUrl: url, key, source: 'VOLLEY_API_URL and VOLLEY_API_KEY' };
  const engine = engineOrFail(env, url ? 'VOLLEY_API_KEY' : 'VOLLEY_API_URL');
  const apiKey = key || engine.apiKey;
  if (!apiKey) throw new CliError('VOLLEY_API_KEY is not set and the local engine records none');
  return {
    baseUrl: url || (engine.apiUrl ?? ''),
    key: apiKey,
    source: url || key ? 'the environment and the local engine' : 'the local engine',
  };
}

/** The API and the admin key (VOLLEY_ADMIN_KEY; the API's URL as for apiTarget). */
export function adminTarget(env: Env): Target {
  const key = env.VOLLEY_ADMIN_KEY?.trim();
  if (!key) {
    throw new CliError(
      'VOLLEY_ADMIN_KEY is not set: the tenant, key and domain commands use the admin API. ' +
        'Without an API or admin key, `npm run admin -- …` manages them straight in Redis.',
    );
  }
  const url = env.VOLLEY_API_URL?.trim() || engineOrFail(env, 'VOLLEY_API_URL').apiUrl || '';
  return { baseUrl: url, key, source: 'VOLLEY_ADMIN_KEY' };
}

export function clientFor(target: Target): VolleyClient {
  try {
    return createVolleyClient({ baseUrl: target.baseUrl, apiKey: target.key });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}
