/**
 * TCP: the endpoint's port answers from this host, with the time it took. When it does not, the
 * way it fails says why: refused (nothing listens, or a firewall rejects), or silence until the
 * timeout (a firewall drops the packets — on port 25 usually the ISP or cloud provider).
 */
import { connect } from 'node:net';
import { failed, passed, since, skipped, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';

export async function tcpCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult> {
  const endpoint = state.target.endpoint;
  if (!endpoint) return skipped('tcp', 'TCP', 'this route connects to nothing');
  const title = `TCP ${endpoint.host}:${endpoint.port}`;
  if (!state.addresses?.length) return skipped('tcp', title, `${endpoint.host} did not resolve`);
  const failures: string[] = [];
  let lastCode = '';
  const start = performance.now();
  for (const address of state.addresses) {
    const attempt = performance.now();
    const outcome = await tryConnect(address, endpoint.port, ctx.settings.timeout);
    if (outcome === 'connected') {
      state.reachable = address;
      return passed('tcp', title, `connected to ${address}:${endpoint.port}`, since(attempt));
    }
    lastCode = outcome;
    failures.push(`${address}: ${outcome === 'ETIMEDOUT' ? `no answer within ${ctx.settings.timeout} ms` : outcome === 'ECONNREFUSED' ? `refused after ${since(attempt)} ms` : `${outcome} after ${since(attempt)} ms`}`);
  }
  const key = `routes.${state.target.name}`;
  const port25 = endpoint.port === 25 ? ' Many ISPs and cloud providers (Azure, AWS, GCP) block outbound port 25 by default: ask them to lift it, or deliver through smtp-oauth or graph (587 / 443).' : '';
  const why =
    lastCode === 'ETIMEDOUT'
      ? 'a firewall on the way drops the connection silently.'
      : lastCode === 'ECONNREFUSED'
        ? `nothing listens on ${endpoint.host}:${endpoint.port}, or a firewall rejects the connection.`
        : 'the network path is broken.';
  return failed(
    'tcp',
    title,
    `Could not connect to ${endpoint.host}:${endpoint.port} (${failures.join('; ')}): ${why}`,
    `Open outbound TCP ${endpoint.port} from this host to ${endpoint.host} on every firewall on the way (test: nc -vz ${endpoint.host} ${endpoint.port}), and check ${key}.host and ${key}.port.${port25}`,
    since(start),
  );
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}
