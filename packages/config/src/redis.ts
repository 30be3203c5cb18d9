/**
 * Where Redis is: one server (`REDIS_URL=redis://host:6379`), or a Redis Cluster whose seed
 * nodes `REDIS_URL` lists comma-separated together with `VOLLEY_REDIS_CLUSTER=true`. Checked
 * here, once for every service and for anything else that connects (see @volley/redis).
 */

/** A URL with any password replaced by `***`, for messages and logs. */
export function mask(urlText: string): string {
  return urlText.replace(/\/\/([^:@/]*):[^@/]*@/g, '//$1:***@');
}

/** The URLs of a `REDIS_URL` value: one, or several separated by commas. */
export function redisSeeds(text: string): string[] {
  return text.split(',').map((s) => s.trim());
}

/**
 * What is wrong with `REDIS_URL` (given as `text`) read with or without cluster mode; empty
 * when it can be connected to. Each message says what follows from the mistake.
 */
export function redisTargetProblems(text: string, cluster: boolean): string[] {
  const seeds = redisSeeds(text);
  const problems: string[] = [];
  if (seeds.some((s) => s === '')) {
    problems.push(
      `REDIS_URL=${JSON.stringify(mask(text))} has an empty entry: give URLs separated by single commas`,
    );
    return problems;
  }
  for (const seed of seeds) {
    if (!/^rediss?:\/\//.test(seed)) {
      problems.push(
        `REDIS_URL=${JSON.stringify(mask(seed))} must start with redis:// or rediss://`,
      );
      continue;
    }
    let url: URL;
    try {
      url = new URL(seed);
    } catch {
      problems.push(`REDIS_URL=${JSON.stringify(mask(seed))} is not a URL`);
      continue;
    }
    const db = url.pathname.replace(/^\//, '');
    if (cluster && db !== '' && db !== '0') {
      problems.push(
        `REDIS_URL=${JSON.stringify(mask(seed))} names database ${db}, but a Redis Cluster has only database 0: drop the /${db}`,
      );
    }
  }
  if (seeds.length > 1 && !cluster) {
    problems.push(
      `REDIS_URL lists ${seeds.length} servers: several URLs are the seed nodes of a Redis Cluster, ` +
        'which needs VOLLEY_REDIS_CLUSTER=true (without it Volley would use one server and the ' +
        'others would be ignored); a single Redis takes one URL',
    );
  }
  const schemes = seeds.filter((s) => /^rediss?:\/\//.test(s)).map((s) => s.split(':')[0]);
  if (cluster && new Set(schemes).size > 1) {
    problems.push(
      'REDIS_URL mixes redis:// and rediss:// seeds: the nodes of one cluster are all reached with TLS or all without',
    );
  }
  return problems;
}

/** `VOLLEY_REDIS_CLUSTER`: true, false or unset (false); anything else is a problem. */
export function redisClusterFlag(value: string | undefined, problems: string[]): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  problems.push(
    `VOLLEY_REDIS_CLUSTER=${JSON.stringify(value)} must be true (REDIS_URL names a Redis Cluster's seed nodes) or false`,
  );
  return false;
}
