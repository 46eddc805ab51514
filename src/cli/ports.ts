/**
 * The ports `serve` listens on, each with the key that sets it, tried before anything starts:
 * a port another program holds is one plain line naming port and key, not a stack trace
 * after the demo's sandbox came up.
 */
import { createServer } from 'node:net';
import type { Config } from '../config/schema.js';

interface Port {
  host: string;
  port: number;
  key: string;
}

function configuredPorts(config: Config): Port[] {
  const ports: Port[] = Object.entries(config.listeners).map(([name, l]) => ({ host: l.host, port: l.port, key: `listeners.${name}.port` }));
  if (config.http) ports.push({ host: config.http.host, port: config.http.port, key: 'http.port' });
  if (config.admin.enabled) ports.push({ host: config.admin.host, port: config.admin.port, key: 'admin.port' });
  return ports.filter((p) => p.port !== 0);
}

/** What keeps the relay from listening, in the admin's words, or null. */
export function listenRefusal(port: number, key: string, code: string | undefined): string | null {
  if (code === 'EADDRINUSE') return `port ${port} is in use (${key})`;
  if (code === 'EACCES') return `port ${port} needs a privilege relay365 does not have (${key}): below 1024 it needs CAP_NET_BIND_SERVICE (see packaging/relay365.service), or choose a port above 1023`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on port ${port} (${key}): its host is not an address of this machine`;
  return null;
}

function tryListen(p: Port): Promise<string | undefined> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    server.listen({ host: p.host, port: p.port, exclusive: true }, () => server.close(() => done(undefined)));
  });
}

/** Tries each configured port; the first that cannot be listened on, as a line, or null. */
export async function firstPortRefusal(config: Config): Promise<string | null> {
  for (const p of configuredPorts(config)) {
    const code = await tryListen(p);
    if (code !== undefined) return listenRefusal(p.port, p.key, code) ?? `cannot listen on ${p.host} port ${p.port} (${p.key}): ${code}`;
  }
  return null;
}

/** A listen error from starting the relay (a program took a port after the check), as a line, or null. */
export function listenErrorLine(config: Config, err: unknown): string | null {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.syscall !== 'listen' || typeof e.port !== 'number') return null;
  const key = configuredPorts(config).find((p) => p.port === e.port)?.key;
  return key ? listenRefusal(e.port, key, e.code) : null;
}
