// A small DNS server on UDP for the sandbox's tenant (dns-packet encodes and decodes): relay365
// doctor, pointed at it with doctor.dnsServers, looks up the tenant's MX and SPF records and
// Microsoft's endpoint names here instead of the internet. Unknown names get NXDOMAIN, known names
// without a record of the asked type an empty answer, as a real authoritative server does.
import { createSocket, type RemoteInfo } from 'node:dgram';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import type { TenantStore } from '../tenant/store.js';
import { tenantDnsRecords } from './records.js';

export interface SandboxDns {
  readonly port: number;
  stop(): Promise<void>;
}

const TTL = 60;

export async function startDnsServer(tenant: TenantStore, options: { host: string; port: number; address: string }): Promise<SandboxDns> {
  const socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (message: Buffer, peer: RemoteInfo) => {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return; // not DNS: a real server drops it too
    }
    const reply = answer(query, tenant, options.address);
    socket.send(dnsPacket.encode(reply), peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Packet, tenant: TenantStore, address: string): Packet {
  const question = query.questions?.[0];
  const records = tenantDnsRecords(tenant.current, address);
  const name = (question?.name ?? '').toLowerCase().replace(/\.$/, '');
  const known = records.filter((r) => r.name === name);
  const answers: Answer[] = known
    .filter((r) => r.type === question?.type)
    .map((r): Answer => {
      if (r.type === 'MX') return { type: 'MX', name: question!.name, ttl: TTL, data: { preference: r.priority, exchange: r.value } };
      if (r.type === 'TXT') return { type: 'TXT', name: question!.name, ttl: TTL, data: r.value };
      return { type: r.type, name: question!.name, ttl: TTL, data: r.value };
    });
  return {
    id: query.id ?? 0,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (known.length === 0 ? 3 : 0), // rcode 3: NXDOMAIN
    questions: query.questions ?? [],
    answers,
  };
}
