/**
 * Password guessing spread over the nodes behind a load balancer gets no more tries than
 * against one node: failed AUTH attempts are counted in the shared store, so the fourth
 * failure (protection.authFailures.max: 4) cools the address down whichever node it reached,
 * and the other node then refuses the address too — even with the right password. Attempts
 * sent to both nodes at once are counted before their check, so no more than max are checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { until } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startCluster, type Cluster } from './cluster.js';

let cluster: Cluster;

beforeAll(async () => {
  const passwordHash = await hashPassword('erp-secret');
  cluster = await startCluster(2, () => ({
    listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, trustedPlaintext: true } },
    apps: { erp: { auth: { passwordHash } } },
    protection: { authFailures: { max: 4, window: '10m', coolDown: '10m', perUser: 100 } },
  }));
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** AUTH PLAIN on a new connection to the node (from `from`); its answer (or the greeting's, when that refuses). */
async function authenticate(node: number, password: string, from = '127.0.0.1'): Promise<string> {
  const talk = await SmtpTalk.open(cluster.nodes[node]!.relay.port, '127.0.0.1', from);
  try {
    const greeting = await talk.reply();
    if (!greeting.startsWith('220')) return greeting;
    await talk.command('EHLO app.example');
    return await talk.command(`AUTH PLAIN ${Buffer.from(`\0erp\0${password}`).toString('base64')}`, 30_000);
  } finally {
    talk.close();
  }
}

describe('AUTH failures with two nodes', () => {
  it('cools the address down on every node after max failures spread over them', async () => {
    const wrong = '535 5.7.8 Authentication credentials invalid';
    expect(await authenticate(0, 'guess-1')).toBe(wrong);
    expect(await authenticate(1, 'guess-2')).toBe(wrong);
    expect(await authenticate(0, 'guess-3')).toBe(wrong);
    expect(await authenticate(1, 'guess-4')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.1; try again after /);
    // node-a did not start the cool-down; it learns of it from the store at the next AUTH, and then at connect.
    expect(await authenticate(0, 'erp-secret')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.1/);
    expect(await authenticate(0, 'erp-secret')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.1/);
    expect(await authenticate(1, 'erp-secret')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.1/);
  });

  it('checks no more than max (4) of ten wrong passwords sent at once to both nodes: each is counted before its check', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => authenticate(i % 2, `race-${i}`, '127.0.0.2')));
    for (const reply of replies) expect(reply).toMatch(/^(535 5\.7\.8|421 4\.7\.0|454 4\.7\.0) /);
    // Each attempt is logged by the node it reached, once its answer is decided: "AUTH failed" when its
    // password was checked, "AUTH refused: …" or "connection refused" when it was turned away before.
    const logged = () => cluster.nodes.flatMap((n) => n.relay.logs).filter((l) => l.client === '127.0.0.2' && /^(AUTH failed|AUTH refused|connection refused)/.test(String(l.msg)));
    await until(() => logged().length === 10, 10_000, () => `${logged().length} of 10 attempts logged`);
    expect(logged().filter((l) => l.msg === 'AUTH failed')).toHaveLength(4);
    expect(await authenticate(0, 'erp-secret', '127.0.0.2')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.2/);
  });
});
