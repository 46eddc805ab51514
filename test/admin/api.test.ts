/**
 * The admin JSON API over real HTTP: the message list with its filters and keyset paging, one
 * message with headers and the attempt timeline, the actions, routes, apps, nodes, the overview,
 * the test send, the OpenAPI document, and /metrics, /healthz, /readyz.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/sink.js';
import { AdminClient, sendThrough, startAdminRelay, type AdminRelay } from './helpers.js';

interface Summary {
  id: string;
  state: string;
  mailFrom: string;
  recipients: string[];
  app: string | null;
}
interface Page {
  messages: Summary[];
  nextCursor: string | null;
}

let relay: AdminRelay;
let client: AdminClient;
const ids: Record<string, string> = {};

const stateOf = async (id: string) => (await client.get(`/api/messages/${id}`)).body.state;

beforeAll(async () => {
  relay = await startAdminRelay();
  client = new AdminClient(relay.base);
  await client.login();
  ids.delivered = await sendThrough(relay.relay.port, 'erp@contoso.example', ['ann@fabrikam.example'], 'Invoice 1');
  ids.failed = await sendThrough(relay.relay.port, 'hr@contoso.example', ['nobody@fabrikam.example'], 'Payslip');
  for (let i = 0; i < 5; i++) ids[`bulk${i}`] = await sendThrough(relay.relay.port, 'batch@contoso.example', [`user${i}@fabrikam.example`], `Batch ${i}`);
  // Final states only: the relay may add messages of its own (a DSN to hr@ for the failed one), so tests look for these ids.
  await until(async () => (await Promise.all(Object.values(ids).map(stateOf))).every((s) => s === 'delivered' || s === 'failed'), 10_000, () => 'messages not delivered/failed');
  expect(await stateOf(ids.failed!)).toBe('failed');
});
afterAll(async () => {
  await relay?.stop();
});

describe('admin API: live events', () => {
  it('streams a move of the queue, and of one message, as Server-Sent Events', async () => {
    const queue = client.events('/api/events/messages', /event: messages\n/);
    await new Promise((resolve) => setTimeout(resolve, 300)); // its first read is under way before the mail moves
    // Addresses no other test filters for: the messages of this test stay out of their lists.
    const id = await sendThrough(relay.relay.port, 'live@tailspin.example', ['board@tailspin.example'], 'Live 1');
    const seen = await queue;
    expect(seen.status).toBe(200);
    expect(seen.type).toContain('text/event-stream');
    expect(seen.text).toMatch(/event: ready\ndata: .*\n\n/);
    expect(seen.text).toMatch(/event: messages\ndata: \{"at":\d+,"counts":\{.*"delivered":\d+/);

    await until(async () => (await stateOf(id)) === 'delivered', 10_000, () => 'the message was not delivered');
    const one = client.events(`/api/events/messages?id=${id}`, /event: message\n/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await client.delete(`/api/messages/${id}`)).status).toBe(200);
    expect((await one).text).toMatch(new RegExp(`event: message\ndata: \\{"at":\\d+,"id":"${id}"\\}`));
  });

  it('ends a stream whose token was revoked instead of telling it the next move', async () => {
    const made = await client.post<{ token: string }>('/api/tokens', { name: 'live-board', role: 'read-only' });
    const started = Date.now();
    const stream = new AdminClient(relay.base, made.body.token).events('/api/events/messages', /event: messages\n/);
    await new Promise((resolve) => setTimeout(resolve, 300)); // open before the revoke
    expect((await client.delete('/api/tokens/live-board')).status).toBe(200);
    const moved = await sendThrough(relay.relay.port, 'live@tailspin.example', ['board@tailspin.example'], 'Live 2');
    const heard = await stream; // returns when the stream ends (or after 10 s with what came)
    await until(async () => (await stateOf(moved)) === 'delivered', 10_000, () => 'the message was not delivered');
    await client.delete(`/api/messages/${moved}`);
    expect(heard.text).toMatch(/event: ready/);
    expect(heard.text).not.toMatch(/event: messages/);
    expect(Date.now() - started, 'ended by the server at the move, not by the test\'s timeout').toBeLessThan(9000);
  });

  it('refuses the stream without a session or token, and a bad id', async () => {
    const stranger = await new AdminClient(relay.base).events('/api/events/messages');
    expect(stranger.status).toBe(401);
    expect(stranger.type).toContain('application/problem+json');
    expect((await client.events('/api/events/messages?id=nonsense')).status).toBe(400);
    const head = await client.request('HEAD', '/api/events/messages');
    expect([head.status, head.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
  });
});

describe('admin API: messages', () => {
  it('lists newest first and pages with a cursor until the end, without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: Page } = await client.get<Page>(`/api/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.messages.map((m) => m.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(expect.arrayContaining(Object.values(ids)));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort().reverse());
    expect(pages).toBeGreaterThanOrEqual(4);
  });

  it('filters by state, sender, recipient, route, app and receive time', async () => {
    const list = async (q: string) => (await client.get<Page>(`/api/messages?${q}`)).body.messages.map((m) => m.id);
    expect(await list('state=failed')).toEqual([ids.failed]);
    expect(await list('state=delivered,failed&sender=hr@')).toEqual([ids.failed]);
    expect(await list('recipient=ann@')).toEqual([ids.delivered]);
    expect(await list('route=main')).toEqual(expect.arrayContaining(Object.values(ids)));
    expect(await list('route=elsewhere')).toEqual([]);
    expect(await list('app=local&sender=@contoso.example')).toEqual(Object.values(ids).sort().reverse());
    expect(await list(`since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect(await list(`until=${Date.now() + 60_000}&since=${Date.now() - 600_000}&sender=@contoso.example`)).toEqual(Object.values(ids).sort().reverse());
    expect(await list(`until=${Date.now() - 600_000}`)).toEqual([]);
    expect(await list('kind=normal&sender=@contoso.example')).toEqual(Object.values(ids).sort().reverse());
    expect((await client.get('/api/messages?kind=spam')).status).toBe(400);
  });

  it('answers bad filters with a problem document naming what is wrong', async () => {
    const bad = await client.get('/api/messages?state=lost');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(bad.body.detail).toMatch(/unknown state "lost"/);
    expect((await client.get('/api/messages?since=yesterday')).body.detail).toMatch(/since expects an ISO 8601 time/);
    expect((await client.get('/api/messages?limit=5000')).status).toBe(400);
    expect((await client.get('/api/messages?cursor=../../x')).status).toBe(400);
  });

  it('shows one message: envelope, headers, recipients and the attempt with the upstream words, diagnosis and node', async () => {
    const failed = await client.get(`/api/messages/${ids.failed}`);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ id: ids.failed, state: 'failed', mailFrom: 'hr@contoso.example', listener: 'default' });
    expect(failed.body.headers).toEqual(expect.arrayContaining([{ name: 'Subject', value: 'Payslip' }, { name: 'From', value: 'hr@contoso.example' }]));
    const [attempt] = failed.body.attempts as Record<string, unknown>[];
    expect(attempt).toMatchObject({ attempt: 1, route: 'main', transport: 'smarthost', node: 'relay.test', verdict: 'permanent', reply: { code: 550 } });
    expect(String((attempt!.reply as { text: string }).text)).toMatch(/User unknown/);
    expect(attempt!.diagnosis).toEqual(expect.any(String));
    expect(failed.body.recipientDetails).toMatchObject([{ address: 'nobody@fabrikam.example', state: 'failed', route: 'main' }]);
    const missing = await client.get('/api/messages/0000000000aaaaaaaa');
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toMatch(/no message/);
  });

  it('downloads the message as .eml, streamed, as it is delivered (with the Received header)', async () => {
    const eml = await client.get(`/api/messages/${ids.delivered}/eml`);
    expect(eml.status).toBe(200);
    expect(eml.headers.get('content-type')).toBe('message/rfc822');
    expect(eml.headers.get('content-disposition')).toBe(`attachment; filename="${ids.delivered}.eml"`);
    const delivered = relay.sink.messages.find((m) => m.to.includes('ann@fabrikam.example'));
    expect(eml.body).toBe(delivered!.raw.toString());
  });

  it('retries, cancels and deletes, refusing what the state does not allow', async () => {
    relay.sink.behaviour.rcpt = () => null; // the upstream takes nobody@ now
    const retried = await client.post(`/api/messages/${ids.failed}/retry`);
    expect(retried.status).toBe(200);
    await until(async () => (await stateOf(ids.failed!)) === 'delivered', 10_000, () => 'the retried message was not delivered');
    const cancel = await client.post(`/api/messages/${ids.delivered}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.detail).toMatch(/cannot cancel a message that is delivered/);
    expect((await client.delete(`/api/messages/${ids.delivered}`)).status).toBe(200);
    expect((await client.get(`/api/messages/${ids.delivered}`)).status).toBe(404);
    expect((await client.post('/api/messages/0000000000aaaaaaaa/retry')).status).toBe(404);
  });

  it('acts on a selection at once, with a result for each message', async () => {
    await client.post('/api/routes/main/pause');
    const held = await sendThrough(relay.relay.port, 'batch@contoso.example', ['held@fabrikam.example'], 'Held');
    await until(async () => (await stateOf(held)) === 'held', 10_000, () => 'not held by the paused route');
    const bulk = await client.post<{ results: { id: string; ok: boolean; state?: string; error?: string }[] }>('/api/messages/actions', { action: 'cancel', ids: [held, ids.bulk0, 'nonsense'] });
    expect(bulk.body.results).toEqual([
      { id: held, ok: true, state: 'cancelled' },
      { id: ids.bulk0, ok: false, error: 'cannot cancel a message that is delivered' },
      { id: 'nonsense', ok: false, error: 'not a message id' },
    ]);
    expect((await client.post('/api/messages/actions', { action: 'explode', ids: [held] })).status).toBe(400);
    await client.post('/api/routes/main/resume');
  });
});

describe('admin API: routes, apps, nodes, overview, test send', () => {
  it('shows routes with state, health, budget and last success; pauses, resumes and releases them', async () => {
    const routes = await client.get<{ routes: Record<string, unknown>[] }>('/api/routes');
    expect(routes.body.routes).toMatchObject([{ name: 'main', transport: 'smarthost', state: 'active', lastSuccessAt: expect.any(Number) }]);
    expect(routes.body.routes[0]).toMatchObject({ setupGuide: { route: 'main', transport: 'smarthost', summary: expect.stringMatching(/smarthost/) } });
    expect((await client.post('/api/routes/main/pause')).body).toEqual({ route: 'main', state: 'paused' });
    expect((await client.get<{ routes: Record<string, unknown>[] }>('/api/routes')).body.routes[0]).toMatchObject({ state: 'paused', health: 'paused', reason: 'paused by an admin' });
    expect((await client.post('/api/routes/main/resume')).body).toEqual({ route: 'main', state: 'active', released: 0 });
    expect((await client.post('/api/routes/main/release')).body).toMatchObject({ state: 'active' });
    const unknown = await client.post('/api/routes/nowhere/pause');
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/no route "nowhere"; routes: main/);
  });

  it('knows no route by a name every JavaScript object answers to (constructor, __proto__, toString): 404', async () => {
    for (const [name, verb] of [['constructor', 'pause'], ['__proto__', 'release'], ['toString', 'resume'], ['hasOwnProperty', 'pause']] as const) {
      const answer = await client.post(`/api/routes/${name}/${verb}`);
      expect(answer.status, `${verb} ${name}`).toBe(404);
      expect(answer.body.detail).toBe(`no route "${name}"; routes: main`);
    }
    expect((await client.get<{ routes: { name: string; state: string }[] }>('/api/routes')).body.routes.map((r) => r.name)).toEqual(['main']);
  });

  it('lists apps and the nodes of the cluster with their heartbeat', async () => {
    expect((await client.get('/api/apps')).body.apps).toMatchObject([{ name: 'local', route: 'main' }]);
    expect((await client.get('/api/nodes')).body.nodes).toMatchObject([{ name: 'relay.test', state: 'running', heartbeatAt: expect.any(Number) }]);
  });

  it('gives the overview: counts by state, activity per minute, route health', async () => {
    const o = await client.get<{ counts: Record<string, number>; activity: { received: number; delivered: number }[]; routes: { name: string; health: string }[]; bucketMs: number }>('/api/overview');
    expect(o.body.counts.delivered).toBeGreaterThanOrEqual(5);
    expect(o.body.bucketMs).toBe(60_000);
    expect(o.body.activity.reduce((n, b) => n + b.received, 0)).toBeGreaterThanOrEqual(7);
    expect(o.body.activity.reduce((n, b) => n + b.delivered, 0)).toBeGreaterThanOrEqual(5);
    expect(o.body.routes).toMatchObject([{ name: 'main', health: expect.stringMatching(/ok|degraded/) }]);
  });

  it('sends a test message through the relay\'s own listener and gives its id to follow', async () => {
    const sent = await client.post<{ response: string; id: string }>('/api/test-send', { to: 'ops@fabrikam.example' });
    expect(sent.status).toBe(200);
    expect(sent.body.response).toMatch(/^250 .*queued as/);
    await until(async () => (await stateOf(sent.body.id)) === 'delivered', 10_000, () => 'the test message was not delivered');
    const delivered = relay.sink.messages.find((m) => m.to.includes('ops@fabrikam.example'));
    expect(delivered!.raw.toString()).toMatch(/sent with the relay365 console \(ops\)/);
    expect((await client.post('/api/test-send', {})).status).toBe(400);
  });
});

describe('admin API: OpenAPI, metrics, health', () => {
  it('serves the OpenAPI document with every endpoint', async () => {
    const doc = await client.get<{ openapi: string; paths: Record<string, unknown> }>('/api/openapi.json');
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const path of ['/api/messages', '/api/messages/{id}', '/api/messages/{id}/eml', '/api/messages/{id}/retry', '/api/messages/actions', '/api/routes', '/api/routes/{name}/pause', '/api/apps', '/api/nodes', '/api/test-send', '/api/login', '/api/tokens', '/healthz', '/readyz', '/metrics']) {
      expect(doc.body.paths, path).toHaveProperty([path]);
    }
  });

  it('answers /healthz and /readyz without signing in', async () => {
    const anonymous = new AdminClient(relay.base);
    expect((await anonymous.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await anonymous.get('/readyz')).body).toEqual({ status: 'ready' });
  });

  it('exposes Prometheus metrics: received, recipient outcomes by route, latency, replies, queue depth', async () => {
    const metrics = await client.get<string>('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = metrics.body;
    expect(text).toMatch(/relay365_messages_received_total\{app="local",listener="default"\} \d+/);
    expect(text).toMatch(/relay365_recipients_total\{outcome="delivered",route="main",app="local"\} \d+/);
    expect(text).toMatch(/relay365_recipients_total\{outcome="failed",route="main",app="local"\} \d+/);
    expect(text).toMatch(/relay365_delivery_latency_seconds_count\{route="main"\} \d+/);
    expect(text).toMatch(/relay365_upstream_replies_total\{route="main",class="5xx",verdict="permanent"\} \d+/);
    expect(text).toMatch(/relay365_queue_messages\{state="delivered"\} \d+/);
    expect(text).toContain('relay365_pacing_waits_total');
    expect(text).toContain('relay365_token_requests_total');
  });
});
