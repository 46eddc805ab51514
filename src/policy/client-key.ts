/**
 * The address a sign-in attempt is counted against: an IPv4 address as it is (also when it
 * comes IPv4-mapped, ::ffff:192.0.2.7, from a dual-stack listener), an IPv6 address by its /64
 * — one host or one customer line usually holds a whole /64, so counting single IPv6 addresses
 * would give a guesser 2^64 fresh ones.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function clientKeyOf(address: string): string {
  const ip = address.replace(/%.*$/, ''); // a zone (fe80::1%eth0) is not part of the address
  if (!isIPv6(ip)) return ip;
  const groups = ipv6Groups(ip);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6] as number, groups[7] as number];
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (isIPv6 said so): `::` filled in, a dotted IPv4 tail made two groups. */
function ipv6Groups(ip: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  const text = dotted && isIPv4(dotted[0]) ? `${ip.slice(0, dotted.index)}${hex(dotted, 1)}:${hex(dotted, 3)}` : ip;
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const filled = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return filled.map((g) => parseInt(g, 16));
}

const hex = (m: RegExpExecArray, i: number) => ((Number(m[i]) << 8) | Number(m[i + 1])).toString(16);
