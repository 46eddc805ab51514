// The tenant model: loading, validation as values, the accessors' Exchange rules, connectors.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessPolicyAllows, findMailbox, findUser, hasPermission, isAcceptedDomain, isTenantName, rbacAllows, servicePrincipalFor, smtpAuthEnabledFor } from '../../sandbox/tenant/accessors.js';
import { connectorFor } from '../../sandbox/tenant/connectors.js';
import { loadTenantFile, parseTenant } from '../../sandbox/tenant/load.js';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { TenantStore } from '../../sandbox/tenant/store.js';
import { DEMO, demoTenant } from '../helpers/sandbox.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay365-tenant-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sp = { appId: DEMO.appOnly.clientId, objectId: DEMO.appOnly.servicePrincipalObjectId };
const app = { kind: 'app' as const, ...sp };

describe('loading a tenant', () => {
  it('reads the demo tenant and fills the defaults', () => {
    const t = demoTenant();
    expect(t.tenantId).toBe(DEMO.tenantId);
    expect(t.organization.smtpClientAuthenticationDisabled).toBe(true);
    const noreply = findMailbox(t, 'noreply@contoso.example')!;
    expect(noreply).toMatchObject({ type: 'shared', smtpClientAuthenticationDisabled: null, maxSendSize: 35 * 1024 * 1024, full: false });
    expect(noreply.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(findMailbox(demoTenant(), 'noreply@contoso.example')!.id).toBe(noreply.id);
  });

  it('reads JSON as well as YAML', async () => {
    const file = join(dir, 'tenant.json');
    await writeFile(file, JSON.stringify({ tenantId: DEMO.tenantId, domains: ['fabrikam.example'], mailboxes: [{ address: 'Ann@Fabrikam.example' }] }));
    const loaded = loadTenantFile(file);
    expect(loaded.ok && loaded.tenant.mailboxes[0]?.address).toBe('ann@fabrikam.example');
  });

  it('says which field is wrong instead of throwing', () => {
    const result = parseTenant({ tenantId: 'nope', domains: ['contoso.example'], mailboxes: [{ address: 'x@elsewhere.example' }] }, 'test tenant');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('tenant_invalid');
    expect(result.error.message).toContain('test tenant');
    expect(result.error.message).toContain('tenantId');
    expect(result.error.message).toContain('elsewhere.example is not an accepted domain');
  });

  it('reports a file that does not parse', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'tenantId: [unclosed\n');
    const loaded = loadTenantFile(file);
    expect(!loaded.ok && loaded.error.code).toBe('tenant_syntax');
    expect(loadTenantFile(join(dir, 'missing.yaml'))).toMatchObject({ ok: false, error: { code: 'tenant_unreadable' } });
  });
});

describe('accessors', () => {
  const t = demoTenant();

  it('names the tenant by id or accepted domain', () => {
    expect(isTenantName(t, DEMO.tenantId.toUpperCase())).toBe(true);
    expect(isTenantName(t, 'contoso.example')).toBe(true);
    expect(isTenantName(t, 'fabrikam.example')).toBe(false);
    expect(isAcceptedDomain(t, 'someone@CONTOSO.example')).toBe(true);
    expect(isAcceptedDomain(t, 'gmail.example')).toBe(false);
  });

  it('finds a mailbox by address, alias or id; only user mailboxes sign in', () => {
    const alice = findMailbox(t, 'a.smith@contoso.example')!;
    expect(alice.address).toBe(DEMO.alice.address);
    expect(findMailbox(t, alice.id)).toBe(alice);
    expect(findUser(t, 'noreply@contoso.example')).toBeUndefined();
  });

  it('matches the Exchange service principal on app id AND object id', () => {
    expect(servicePrincipalFor(t, sp)).toMatchObject({ ok: true });
    expect(servicePrincipalFor(t, { ...sp, objectId: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ ok: false, reason: 'object_id_mismatch' });
    expect(servicePrincipalFor(t, { appId: DEMO.delegated.clientId, objectId: sp.objectId })).toMatchObject({ ok: false, reason: 'not_registered' });
  });

  it('grants FullAccess and SendAs as the permission rows say, and FullAccess is not SendAs', () => {
    expect(hasPermission(t, app, 'relay@contoso.example', 'FullAccess')).toBe(true);
    expect(hasPermission(t, app, 'alice@contoso.example', 'FullAccess')).toBe(false);
    expect(hasPermission(t, app, 'noreply@contoso.example', 'SendAs')).toBe(false);
    expect(hasPermission(t, { kind: 'user', address: 'relay@contoso.example' }, 'noreply@contoso.example', 'SendAs')).toBe(true);
    expect(hasPermission(t, { kind: 'user', address: DEMO.alice.address }, 'a.smith@contoso.example', 'SendAs')).toBe(true);
    expect(hasPermission(t, { ...app, objectId: '00000000-0000-4000-8000-000000000000' }, 'relay@contoso.example', 'FullAccess')).toBe(false);
  });

  it('lets the mailbox setting win over the tenant for SMTP AUTH; null follows the tenant', () => {
    expect(smtpAuthEnabledFor(t, 'relay@contoso.example')).toEqual({ enabled: true, decidedBy: 'mailbox' });
    expect(smtpAuthEnabledFor(t, DEMO.alice.address)).toEqual({ enabled: false, decidedBy: 'tenant' });
    const open: Tenant = { ...t, organization: { ...t.organization, smtpClientAuthenticationDisabled: false }, mailboxes: t.mailboxes.map((m) => (m.address === DEMO.bob.address ? { ...m, smtpClientAuthenticationDisabled: true } : m)) };
    expect(smtpAuthEnabledFor(open, DEMO.alice.address)).toEqual({ enabled: true, decidedBy: 'tenant' });
    expect(smtpAuthEnabledFor(open, DEMO.bob.address)).toEqual({ enabled: false, decidedBy: 'mailbox' });
  });

  it('applies RBAC for Applications and application access policies', () => {
    const scoped: Tenant = {
      ...t,
      exchange: {
        ...t.exchange,
        managementRoleAssignments: [{ role: 'Application Mail.Send', app: sp.appId, recipients: ['relay@contoso.example'] }],
        applicationAccessPolicies: [{ appId: sp.appId, accessRight: 'RestrictAccess', mailboxes: ['relay@contoso.example'] }],
      },
    };
    expect(rbacAllows(scoped, sp.appId, 'Mail.Send', 'relay@contoso.example')).toBe(true);
    expect(rbacAllows(scoped, sp.appId, 'Mail.Send', DEMO.alice.address)).toBe(false);
    expect(accessPolicyAllows(scoped, sp.appId, 'relay@contoso.example')).toBe(true);
    expect(accessPolicyAllows(scoped, sp.appId, DEMO.alice.address)).toBe(false);
    expect(accessPolicyAllows(t, sp.appId, DEMO.alice.address)).toBe(true);
  });
});

describe('inbound connectors', () => {
  const t = demoTenant();

  it('attributes a server by IP range (IPv4-mapped addresses too) or by certificate name; otherwise Direct Send', () => {
    expect(connectorFor(t, { ip: '203.0.113.7' })?.name).toContain('by IP');
    expect(connectorFor(t, { ip: '::ffff:203.0.113.250' })?.name).toContain('by IP');
    expect(connectorFor(t, { ip: '198.51.100.1' })).toBeUndefined();
    expect(connectorFor(t, { ip: '127.0.0.1', certificateNames: ['relay.contoso.example'] })?.name).toContain('by certificate');
    expect(connectorFor(t, { certificateNames: ['*.contoso.example'] })?.name).toContain('by certificate');
    expect(connectorFor(t, { certificateNames: ['relay.fabrikam.example'] })).toBeUndefined();
  });

  it('ignores disabled connectors and rejects malformed ranges at load time', () => {
    const off: Tenant = { ...t, inboundConnectors: t.inboundConnectors.map((c) => ({ ...c, enabled: false })) };
    expect(connectorFor(off, { ip: '203.0.113.7' })).toBeUndefined();
    const bad = parseTenant({ tenantId: DEMO.tenantId, domains: ['contoso.example'], inboundConnectors: [{ name: 'x', senderIpAddresses: ['203.0.113.0/40'] }] });
    expect(!bad.ok && bad.error.message).toContain('CIDR');
  });
});

describe('the tenant store', () => {
  it('patches, keeps the old tenant when a change is invalid, and tells listeners', () => {
    const opened = TenantStore.fromObject(demoTenant());
    if (!opened.ok) throw new Error(opened.error.message);
    const store = opened.store;
    const seen: string[] = [];
    store.onChange((_t, source) => seen.push(source));
    expect(store.patch({ organization: { rejectDirectSend: true } }).ok).toBe(true);
    expect(store.current.organization).toMatchObject({ rejectDirectSend: true, smtpClientAuthenticationDisabled: true });
    const bad = store.patch({ tenantId: 'nope' });
    expect(bad.ok).toBe(false);
    expect(store.current.tenantId).toBe(DEMO.tenantId);
    expect(seen).toEqual(['api']);
  });
});
