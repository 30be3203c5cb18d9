import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerToken, secretMatcher } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ApiProblem, problemsByCode } from '../problem.ts';
import { operation } from '../operation.ts';
import {
  KEY_ID_PATTERN,
  NAME_MAX,
  TENANT_ID_PATTERN,
  TenantError,
  TenantStore,
  type ApiKeyRecord,
  type Tenant,
} from '../tenants.ts';

export const TenantId = Type.String({
  pattern: TENANT_ID_PATTERN,
  description: 'Tenant id: lower-case letters, digits and dashes, at most 63 characters.',
});

const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX,
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
  description: 'A name for people to recognize it by; not used for authentication.',
});

const TenantSchema = Type.Object(
  {
    id: TenantId,
    name: Type.Optional(Name),
    createdAt: Type.String({ format: 'date-time', description: 'When it was created.' }),
  },
  { description: 'A tenant: campaigns, suppressions and keys belong to exactly one.' },
);

const KeySchema = Type.Object(
  {
    id: Type.String({ pattern: KEY_ID_PATTERN, description: 'Key id, to list and revoke it by.' }),
    tenant: TenantId,
    name: Type.Optional(Name),
    createdAt: Type.String({ format: 'date-time', description: 'When it was created.' }),
  },
  { description: 'An API key as stored: metadata only, never the key or its hash.' },
);

const CreatedKeySchema = Type.Object(
  {
    id: KeySchema.properties.id,
    tenant: TenantId,
    name: Type.Optional(Name),
    createdAt: KeySchema.properties.createdAt,
    key: Type.String({
      description:
        'The API key, shown only in this response: only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.',
    }),
  },
  { description: 'A new API key.' },
);

export const TenantParams = Type.Object({ tenant: TenantId });
const KeyParams = Type.Object({
  keyId: Type.String({ pattern: KEY_ID_PATTERN, description: 'Id of the key to revoke.' }),
});

const NO_SUCH_TENANT = 'No tenant with this id.';

const tenantOut = (t: Tenant) => ({
  id: t.id,
  name: t.name,
  createdAt: new Date(t.createdAt).toISOString(),
});

// Only these fields are copied out, so a secret can never be serialized by accident.
const keyOut = (k: ApiKeyRecord) => ({
  id: k.id,
  tenant: k.tenant,
  name: k.name,
  createdAt: new Date(k.createdAt).toISOString(),
});

const STATUS: Record<TenantError['code'], [number, string]> = {
  TENANT_ID_INVALID: [400, 'Invalid request'],
  NAME_INVALID: [400, 'Invalid request'],
  TENANT_EXISTS: [409, 'Conflict'],
  TENANT_NOT_FOUND: [404, 'Not found'],
  KEY_NOT_FOUND: [404, 'Not found'],
};

const asProblem = problemsByCode((err) => err instanceof TenantError, STATUS);

/** Tenants and API keys, under /v1/admin, authenticated by VOLLEY_ADMIN_KEY. */
export function registerAdminRoutes(plain: FastifyInstance, ctx: ApiContext): void {
  const admin = plain.withTypeProvider<TypeBoxTypeProvider>();
  const store = new TenantStore(ctx.redis, ctx.keys);
  const isAdminKey = ctx.config.adminKey ? secretMatcher(ctx.config.adminKey) : undefined;

  admin.addHook('onRequest', async (req) => {
    // Without an admin key the admin API is off. 403 rather than 404: the path is right and
    // documented, but no credential can open it until the operator sets the variable, and a
    // 404 would send them looking for a typo in the URL instead.
    if (!isAdminKey) {
      throw new ApiProblem(
        403,
        'Admin API disabled',
        'the admin API is off because VOLLEY_ADMIN_KEY is not set; set it to a long random secret (e.g. `openssl rand -hex 24`) and restart the API, or use `npm run admin`',
      );
    }
    if (!isAdminKey(bearerToken(req))) {
      throw new ApiProblem(
        401,
        'Unauthorized',
        'the admin key is not valid: send VOLLEY_ADMIN_KEY as `Authorization: Bearer <key>` (API keys do not open the admin API)',
      );
    }
  });

  admin.post(
    '/tenants',
    {
      schema: operation({
        operationId: 'createTenant',
        summary: 'Create a tenant',
        description:
          'Creates a tenant; its campaigns, suppression list and API keys are its own. Create keys for it with POST /v1/admin/tenants/{tenant}/keys.',
        tag: 'admin',
        access: 'adminKey',
        body: Type.Object(
          { id: TenantId, name: Type.Optional(Name) },
          { additionalProperties: false, examples: [{ id: 'acme', name: 'Acme Inc.' }] },
        ),
        response: { 201: TenantSchema },
        problems: { 409: 'A tenant with this id exists.' },
      }),
    },
    async (req, reply) => {
      const tenant = await asProblem(store.createTenant(req.body.id, req.body.name));
      return reply.code(201).send(tenantOut(tenant));
    },
  );

  admin.get(
    '/tenants',
    {
      schema: operation({
        operationId: 'listTenants',
        summary: 'List tenants',
        description: 'Every tenant, by id.',
        tag: 'admin',
        access: 'adminKey',
        response: { 200: Type.Object({ tenants: Type.Array(TenantSchema) }) },
      }),
    },
    async () => ({ tenants: (await store.listTenants()).map(tenantOut) }),
  );

  admin.post(
    '/tenants/:tenant/keys',
    {
      schema: operation({
        operationId: 'createApiKey',
        summary: 'Create an API key',
        description:
          'Creates an API key of the tenant. The key is in this response only; store it now. Send `{}` for a key without a name.',
        tag: 'admin',
        access: 'adminKey',
        params: TenantParams,
        body: Type.Object(
          { name: Type.Optional(Name) },
          { additionalProperties: false, examples: [{ name: 'newsletter sender' }] },
        ),
        response: { 201: CreatedKeySchema },
        problems: { 404: NO_SUCH_TENANT },
      }),
    },
    async (req, reply) => {
      const { key, record } = await asProblem(store.createKey(req.params.tenant, req.body.name));
      req.log.info({ tenant: record.tenant, keyId: record.id }, 'api key created');
      return reply.code(201).send({ ...keyOut(record), key });
    },
  );

  admin.get(
    '/tenants/:tenant/keys',
    {
      schema: operation({
        operationId: 'listApiKeys',
        summary: "List a tenant's API keys",
        description: 'Ids, names and creation times of the keys, oldest first; never the keys.',
        tag: 'admin',
        access: 'adminKey',
        params: TenantParams,
        response: { 200: Type.Object({ keys: Type.Array(KeySchema) }) },
        problems: { 404: NO_SUCH_TENANT },
      }),
    },
    async (req) => ({ keys: (await asProblem(store.listKeys(req.params.tenant))).map(keyOut) }),
  );

  admin.delete(
    '/keys/:keyId',
    {
      schema: operation({
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        description:
          'Deletes the key: the next request made with it is refused with 401. Answers with the key that was revoked.',
        tag: 'admin',
        access: 'adminKey',
        params: KeyParams,
        response: { 200: KeySchema },
        problems: { 404: 'No API key with this id.' },
      }),
    },
    async (req) => {
      const record = await asProblem(store.revokeKey(req.params.keyId));
      req.log.info({ tenant: record.tenant, keyId: record.id }, 'api key revoked');
      return keyOut(record);
    },
  );
}
