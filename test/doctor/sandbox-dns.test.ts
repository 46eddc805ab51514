// The sandbox's DNS server (UDP on loopback, dns-packet): the tenant's MX and SPF records and
// Microsoft's names, asked through node:dns like any resolver; a tenant edit replaces one record.
import { Resolver } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SPF } from '../../sandbox/dns/records.js';
import { useSandbox } from '../helpers/sandbox.js';

const t = useSandbox();
const resolver = () => {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${t.sandbox.ports.dns}`]);
  return r;
};

describe('sandbox DNS', () => {
  it("answers the tenant's MX and SPF, and Microsoft's names with the sandbox's address", async () => {
    const r = resolver();
    expect(await r.resolveMx('contoso.example')).toEqual([{ exchange: 'contoso-example.mail.protection.outlook.com', priority: 0 }]);
    expect(await r.resolveTxt('contoso.example')).toEqual([[DEFAULT_SPF]]);
    expect(await r.resolve4('contoso-example.mail.protection.outlook.com')).toEqual(['127.0.0.1']);
    expect(await r.resolve4('smtp.office365.com')).toEqual(['127.0.0.1']);
  });

  it('says NXDOMAIN for unknown names and no data for a known name without the type', async () => {
    const r = resolver();
    await expect(r.resolve4('nothing.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(r.resolveMx('smtp.office365.com')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it("a tenant's dns.records replace the default of the same name and type; an empty value removes it", async () => {
    t.edit((tenant) => {
      tenant.dns.records = [
        { name: 'contoso.example', type: 'TXT', value: 'v=spf1 -all', priority: 0 },
        { name: 'contoso.example', type: 'MX', value: '', priority: 0 },
      ];
    });
    const r = resolver();
    expect(await r.resolveTxt('contoso.example')).toEqual([['v=spf1 -all']]);
    await expect(r.resolveMx('contoso.example')).rejects.toMatchObject({ code: 'ENODATA' });
  });
});
