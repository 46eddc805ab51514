/**
 * What `relay365 doctor` needs that it cannot find out by itself: which DNS servers to ask (the
 * system's by default; a test points them at the sandbox), this relay's public IP addresses (for
 * the SPF check of direct-send and connector routes: behind NAT they cannot be discovered offline),
 * and how long each network check may take (short, so a blocked port is reported quickly).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, text } from './fields.js';

const dnsServer = text('a DNS server such as 192.0.2.53 or 127.0.0.1:5053').refine((v) => isIP(v) !== 0 || /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]):\d{1,5}$/i.test(v), {
  error: (iss) => `expected an IP address, optionally with :port (127.0.0.1:5053, [::1]:5053), got ${JSON.stringify(iss.input)}`,
});

const publicIp = text('an IP address').refine((v) => isIP(v) !== 0, { error: (iss) => `expected an IPv4 or IPv6 address, got ${JSON.stringify(iss.input)}` });

export const doctorSchema = z
  .strictObject({
    dnsServers: z.array(dnsServer).default([]).describe('DNS servers the doctor asks (IP or IP:port); default: the system\'s resolver.'),
    publicIps: z
      .array(publicIp)
      .default([])
      .describe('This relay\'s public IP addresses as Microsoft sees them (behind NAT: the firewall\'s). The SPF check of direct-send and connector routes looks for them.'),
    timeout: duration().prefault('5s').describe('Longest wait of each network check (DNS, TCP connect, TLS, SMTP, token).'),
  })
  .prefault({});

export type DoctorConfig = z.output<typeof doctorSchema>;
