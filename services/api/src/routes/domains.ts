/**
 * Sending domains of tenants, under /v1/admin (the admin key check of that scope applies): add
 * a domain with a generated or imported DKIM key, list and show them with the DNS records to
 * publish, rotate keys, remove selectors and domains. No answer ever carries a private key.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  DKIM_KEY_TYPES,
  DomainError,
  DomainStore,
  SELECTOR_MAX,
  domainView,
  type DnsSettings,
  type DomainRecord,
} from '@volley/domains';
import type { ApiContext } from '../context.ts';
import { problemsByCode } from '../problem.ts';
import { operation } from '../operation.ts';
import { TenantId, TenantParams } from './admin.ts';

const DomainName = Type.String({
  minLength: 1,
  maxLength: 253,
  description: 'Domain name; IDNs are stored in punycode.',
});
const Selector = Type.String({
  minLength: 1,
  maxLength: SELECTOR_MAX,
  description: 'DKIM selector: DNS labels (letters, digits, inner dashes), dots between.',
});
const KeyType = Type.Enum([...DKIM_KEY_TYPES], {
  description: 'Key of a generated key pair: `rsa` (2048 bits) or `ed25519`.',
});

const keyFields = {
  selector: Type.Optional(Selector),
  keyType: Type.Optional(KeyType),
  privateKeyPem: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 16 * 1024,
      description:
        'Import this private key (PEM, unencrypted; RSA 2048-4096 bits or Ed25519) instead of generating one. It is sealed with VOLLEY_DKIM_SECRET and never shown again.',
    }),
  ),
};

const AddBody = Type.Object({ domain: DomainName, ...keyFields }, { additionalProperties: false });
const RotateBody = Type.Object(
  {
    ...keyFields,
    activate: Type.Optional(
      Type.Boolean({
        description:
          'false: add the selector without signing with it yet, to publish its record first and switch with POST …/selectors/{selector}/activate. Default true.',
      }),
    ),
  },
  { additionalProperties: false },
);

const DnsRecordSchema = Type.Object({
  type: Type.Enum(['TXT', 'MX']),
  name: Type.String({ description: 'Fully qualified name, without the trailing dot.' }),
  value: Type.String(),
  purpose: Type.Enum(['dkim', 'spf', 'dmarc', 'bounce-mx']),
  selector: Type.Optional(Type.String({ description: 'The selector a DKIM record publishes.' })),
});

const DomainSchema = Type.Object(
  {
    domain: Type.String(),
    tenant: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    activeSelector: Type.String({ description: 'The selector that signs new mail.' }),
    selectors: Type.Array(
      Type.Object({
        selector: Type.String(),
        keyType: KeyType,
        bits: Type.Optional(Type.Integer({ description: 'Modulus length of an RSA key.' })),
        active: Type.Boolean(),
        createdAt: Type.String({ format: 'date-time' }),
      }),
    ),
    records: Type.Array(DnsRecordSchema, {
      description:
        'DNS records to publish: the DKIM TXT of every selector, SPF (with VOLLEY_SPF_INCLUDE), DMARC, and the MX of the bounce domain (with VOLLEY_BOUNCE_DOMAIN).',
    }),
    notes: Type.Array(Type.String(), { description: 'What the records alone do not say.' }),
  },
  { description: 'A sending domain of a tenant. Private keys are never part of it.' },
);

const DomainParams = Type.Object({ tenant: TenantId, domain: DomainName });
const SelectorParams = Type.Object({ tenant: TenantId, domain: DomainName, selector: Selector });

const STATUS: Record<DomainError['code'], [number, string]> = {
  DOMAIN_INVALID: [400, 'Invalid request'],
  SELECTOR_INVALID: [400, 'Invalid request'],
  KEY_INVALID: [400, 'Invalid request'],
  TENANT_NOT_FOUND: [404, 'Not found'],
  DOMAIN_NOT_FOUND: [404, 'Not found'],
  SELECTOR_NOT_FOUND: [404, 'Not found'],
  DOMAIN_EXISTS: [409, 'Conflict'],
  SELECTOR_EXISTS: [409, 'Conflict'],
  SELECTOR_ACTIVE: [409, 'Conflict'],
  BUSY: [409, 'Conflict'],
  // The server is missing a setting the client cannot supply.
  SECRET_MISSING: [503, 'DKIM secret not configured'],
};

const asProblem = problemsByCode((err) => err instanceof DomainError, STATUS);

export function registerDomainRoutes(plain: FastifyInstance, ctx: ApiContext): void {
  const admin = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { config } = ctx;
  const store = new DomainStore(ctx.redis, ctx.keys, {
    secret: config.dkimSecret,
    staticDomains: (config.dkimKeys ?? []).map((k) => k.domain),
  });
  const dns: DnsSettings = {
    bounceDomain: config.bounceDomain,
    bounceMx: config.bounceMx,
    spfInclude: config.spfInclude,
  };
  const view = (rec: DomainRecord) => domainView(rec, dns);

  admin.post(
    '/tenants/:tenant/domains',
    {
      schema: operation({
        operationId: 'addSendingDomain',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Add a sending domain',
        description:
          "Adds a domain the tenant may send as (its subdomains too) with a DKIM key, generated (`keyType`, default RSA 2048) or imported (`privateKeyPem`). Answers the DNS records to publish. A domain belongs to one tenant. Campaigns of a tenant with sending domains are refused (422) unless their From domain is one of them; the senders sign with the domain's active selector.",
        params: TenantParams,
        body: AddBody,
        response: { 201: DomainSchema },
        problems: {
          404: 'No such tenant.',
          409: 'The domain belongs to a tenant already, or a change to it is in progress.',
        },
      }),
    },
    async (req, reply) => {
      const rec = await asProblem(store.add(req.params.tenant, req.body));
      req.log.info(
        { tenant: rec.tenant, domain: rec.domain, selector: rec.active },
        'sending domain added',
      );
      return reply.code(201).send(view(rec));
    },
  );

  admin.get(
    '/tenants/:tenant/domains',
    {
      schema: operation({
        operationId: 'listSendingDomains',
        tag: 'admin',
        access: 'adminKey',
        summary: "List a tenant's sending domains",
        description: 'Every sending domain of the tenant, by name, with its selectors and records.',
        params: TenantParams,
        response: { 200: Type.Object({ domains: Type.Array(DomainSchema) }) },
        problems: { 404: 'No such tenant.' },
      }),
    },
    async (req) => ({ domains: (await asProblem(store.list(req.params.tenant))).map(view) }),
  );

  admin.get(
    '/tenants/:tenant/domains/:domain',
    {
      schema: operation({
        operationId: 'getSendingDomain',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Show a sending domain',
        description: 'The domain, its selectors and the DNS records to publish.',
        params: DomainParams,
        response: { 200: DomainSchema },
        problems: { 404: 'No such tenant, or the domain is not one of its sending domains.' },
      }),
    },
    async (req) => view(await asProblem(store.get(req.params.tenant, req.params.domain))),
  );

  admin.delete(
    '/tenants/:tenant/domains/:domain',
    {
      schema: operation({
        operationId: 'removeSendingDomain',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Remove a sending domain',
        description:
          'Removes the domain and its keys: new campaigns from it are refused, drafts from it cannot start, and senders stop signing with its keys within VOLLEY_DKIM_CACHE_TTL (running campaigns go on unsigned: pause or cancel them). Answers the domain as it was.',
        params: DomainParams,
        response: { 200: DomainSchema },
        problems: {
          404: 'No such tenant, or the domain is not one of its sending domains.',
          409: 'A change to the domain is in progress.',
        },
      }),
    },
    async (req) => {
      const rec = await asProblem(store.remove(req.params.tenant, req.params.domain));
      req.log.info({ tenant: rec.tenant, domain: rec.domain }, 'sending domain removed');
      return view(rec);
    },
  );

  admin.post(
    '/tenants/:tenant/domains/:domain/rotate',
    {
      schema: operation({
        operationId: 'rotateDkimKey',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Rotate the DKIM key',
        description:
          "Adds a selector with a new key (generated, of the active key's type unless `keyType` says otherwise, or imported) and makes it the one that signs; senders switch within VOLLEY_DKIM_CACHE_TTL, without a restart. Mail signed with the new selector verifies once its record is published: to publish first, rotate with `activate: false`, publish, then activate the selector. The old selector stays, and stays in `records`, until removed. Send `{}` for a generated key.",
        params: DomainParams,
        body: RotateBody,
        response: { 201: DomainSchema },
        problems: {
          404: 'No such tenant, or the domain is not one of its sending domains.',
          409: 'The selector exists already, or a change to the domain is in progress.',
        },
      }),
    },
    async (req, reply) => {
      const rec = await asProblem(store.rotate(req.params.tenant, req.params.domain, req.body));
      req.log.info(
        { tenant: rec.tenant, domain: rec.domain, selector: rec.active },
        'dkim key rotated',
      );
      return reply.code(201).send(view(rec));
    },
  );

  admin.post(
    '/tenants/:tenant/domains/:domain/selectors/:selector/activate',
    {
      schema: operation({
        operationId: 'activateDkimSelector',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Switch to a staged DKIM selector',
        description:
          'Makes the selector (added by a rotation with `activate: false`, its record published since) the one that signs; senders switch within VOLLEY_DKIM_CACHE_TTL.',
        params: SelectorParams,
        response: { 200: DomainSchema },
        problems: {
          404: 'No such tenant, domain or selector.',
          409: 'A change to the domain is in progress.',
        },
      }),
    },
    async (req) => {
      const { tenant, domain, selector } = req.params;
      const rec = await asProblem(store.activate(tenant, domain, selector));
      req.log.info({ tenant, domain: rec.domain, selector }, 'dkim selector activated');
      return view(rec);
    },
  );

  admin.delete(
    '/tenants/:tenant/domains/:domain/selectors/:selector',
    {
      schema: operation({
        operationId: 'removeDkimSelector',
        tag: 'admin',
        access: 'adminKey',
        summary: 'Remove an old DKIM selector',
        description:
          'Removes a selector that no longer signs (the active one is refused with 409: rotate first). Unpublish its record afterwards.',
        params: SelectorParams,
        response: { 200: DomainSchema },
        problems: {
          404: 'No such tenant, domain or selector.',
          409: 'The selector is the active one (rotate first), or a change to the domain is in progress.',
        },
      }),
    },
    async (req) => {
      const { tenant, domain, selector } = req.params;
      const rec = await asProblem(store.removeSelector(tenant, domain, selector));
      req.log.info({ tenant, domain: rec.domain, selector }, 'dkim selector removed');
      return view(rec);
    },
  );
}
