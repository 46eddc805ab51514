/**
 * The address a sign-in attempt counts against: IPv4 as it is, IPv4-mapped IPv6 as its IPv4
 * address (Fastify's request.ip on a dual-stack listener), and IPv6 by its /64, however the
 * address is written.
 */
import { describe, expect, it } from 'vitest';
import { clientKeyOf } from '../../src/policy/client-key.js';

describe('the address a sign-in attempt counts against', () => {
  it('is an IPv4 address as it is, also when it comes IPv4-mapped', () => {
    expect(clientKeyOf('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKeyOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKeyOf('::FFFF:c000:0207')).toBe('192.0.2.7');
    expect(clientKeyOf('0:0:0:0:0:ffff:192.0.2.7')).toBe('192.0.2.7');
  });

  it("is an IPv6 address's /64, however the address is written", () => {
    const key = '2001:db8:1:2::/64';
    for (const address of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:9', '2001:db8:1:2:a:b:1.2.3.4', '2001:db8:1:2::1%eth0']) {
      expect(clientKeyOf(address), address).toBe(key);
    }
    expect(clientKeyOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(clientKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
