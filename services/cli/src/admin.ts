/**
 * `volley tenant …`, `volley key …` and `volley domain …`: the admin API, with VOLLEY_ADMIN_KEY.
 * Before any API runs (or without an admin key), `npm run admin -- …` does the same straight
 * in Redis: it is how the first key of a deployment is made.
 */
import { ok } from './api.ts';
import { adminTarget, clientFor } from './config.ts';
import type { CommandContext, Exit } from './context.ts';
import { table } from './output.ts';

function admin(ctx: CommandContext) {
  const target = adminTarget(ctx.env);
  return { client: clientFor(target), base: target.baseUrl };
}

interface Json {
  json: boolean;
}

export async function tenantCreate(
  ctx: CommandContext,
  id: string,
  o: Json & { name?: string },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const t = await ok(
    client.POST('/v1/admin/tenants', { body: { id, ...(o.name ? { name: o.name } : {}) } }),
    base,
  );
  out.emit(t, () => [`created tenant ${t.id}${t.name ? ` (${t.name})` : ''}`]);
  return 0;
}

export async function tenantList(ctx: CommandContext, o: Json): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const { tenants } = await ok(client.GET('/v1/admin/tenants'), base);
  out.list(tenants, 'no tenants yet: create one with `volley tenant create <id>`', (ts) =>
    table([['ID', 'NAME', 'CREATED'], ...ts.map((t) => [t.id, t.name ?? '', t.createdAt])]),
  );
  return 0;
}

export async function keyCreate(
  ctx: CommandContext,
  tenant: string,
  o: Json & { name?: string },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const k = await ok(
    client.POST('/v1/admin/tenants/{tenant}/keys', {
      params: { path: { tenant } },
      body: o.name ? { name: o.name } : {},
    }),
    base,
  );
  if (!out.human) out.json(k);
  else {
    // The key alone on stdout, so `KEY=$(volley key create t)` captures it.
    out.line(k.key);
    out.note(
      `created key ${k.id} for tenant ${k.tenant}. This is the only time the key is shown: store it now.`,
    );
  }
  return 0;
}

export async function keyList(ctx: CommandContext, tenant: string, o: Json): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const { keys } = await ok(
    client.GET('/v1/admin/tenants/{tenant}/keys', { params: { path: { tenant } } }),
    base,
  );
  out.list(keys, `tenant ${tenant} has no keys`, (ks) =>
    table([['ID', 'NAME', 'CREATED'], ...ks.map((k) => [k.id, k.name ?? '', k.createdAt])]),
  );
  return 0;
}

export async function keyRevoke(ctx: CommandContext, keyId: string, o: Json): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const k = await ok(
    client.DELETE('/v1/admin/keys/{keyId}', { params: { path: { keyId } } }),
    base,
  );
  out.emit(k, () => [`revoked key ${k.id} of tenant ${k.tenant}`]);
  return 0;
}

type Domain = Awaited<ReturnType<typeof addDomain>>;

async function addDomain(
  ctx: CommandContext,
  tenant: string,
  domain: string,
  o: { selector?: string; keyType?: 'rsa' | 'ed25519' },
) {
  const { client, base } = admin(ctx);
  return ok(
    client.POST('/v1/admin/tenants/{tenant}/domains', {
      params: { path: { tenant } },
      body: {
        domain,
        ...(o.selector ? { selector: o.selector } : {}),
        ...(o.keyType ? { keyType: o.keyType } : {}),
      },
    }),
    base,
  );
}

function domainLines(d: Domain): string[] {
  return [
    `${d.domain} (tenant ${d.tenant}), active selector ${d.activeSelector}`,
    'publish:',
    ...table(d.records.map((r) => [`  ${r.type}`, r.name, r.value])),
    ...d.notes.map((n) => `note: ${n}`),
  ];
}

export async function domainAdd(
  ctx: CommandContext,
  tenant: string,
  domain: string,
  o: Json & { selector?: string; keyType?: 'rsa' | 'ed25519' },
): Promise<Exit> {
  const out = ctx.output(o.json);
  const d = await addDomain(ctx, tenant, domain, o);
  out.emit(d, () => domainLines(d));
  return 0;
}

export async function domainList(ctx: CommandContext, tenant: string, o: Json): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  const { domains } = await ok(
    client.GET('/v1/admin/tenants/{tenant}/domains', { params: { path: { tenant } } }),
    base,
  );
  out.list(domains, `tenant ${tenant} has no sending domains`, (ds) => ds.flatMap(domainLines));
  return 0;
}

export async function domainRemove(
  ctx: CommandContext,
  tenant: string,
  domain: string,
  o: Json,
): Promise<Exit> {
  const out = ctx.output(o.json);
  const { client, base } = admin(ctx);
  await ok(
    client.DELETE('/v1/admin/tenants/{tenant}/domains/{domain}', {
      params: { path: { tenant, domain } },
    }),
    base,
  );
  out.emit({ type: 'removed', tenant, domain }, () => [`removed ${domain} from tenant ${tenant}`]);
  return 0;
}
