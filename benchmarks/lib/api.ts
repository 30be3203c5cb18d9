/** Requests a benchmark makes to the API of its deployment, authenticated; any non-2xx throws. */

export interface BenchApi {
  /** The answer's JSON body. */
  call: (path: string, init?: RequestInit) => Promise<unknown>;
  /** POSTs `json` and answers the JSON body. */
  post: (path: string, json: unknown) => Promise<unknown>;
  /** Creates a campaign from a body already serialized (large lists are built once); its id. */
  createCampaign: (body: string) => Promise<string>;
}

export function benchApi(d: { base: string; auth: Record<string, string> }): BenchApi {
  const call = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const res = await fetch(`${d.base}${path}`, {
      ...init,
      headers: { ...d.auth, ...(init.headers as Record<string, string> | undefined) },
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
  const postText = (path: string, body: string) =>
    call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return {
    call,
    post: (path, json) => postText(path, JSON.stringify(json)),
    createCampaign: async (body) => ((await postText('/v1/campaigns', body)) as { id: string }).id,
  };
}
