/**
 * The console in a real browser (Debian's Chromium, driven by playwright-core) against a relay
 * delivering into the Microsoft 365 sandbox: sign in, see a delivered and a failed message, read
 * the failed one's diagnosis, retry it after fixing the tenant, and send a test mail from the
 * routes page; a read-only user sees the same pages without the buttons the API would refuse. Every page is saved as a screenshot under test-output/console/, and any error the
 * page shows or the browser's console logs fails the test.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { ROOT, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { ADMIN } from './helpers.js';

const VIEWER = { user: 'viewer', password: 'a read-only passphrase for the console' };
registerSecrets(VIEWER.password);

const SHOTS = join(ROOT, 'test-output', 'console');
const t = useSandbox();
let relay: TestRelay;
let browser: Browser;
let page: Page;
let base: string;
const problems: string[] = [];

async function submit(from: string, to: string, subject: string): Promise<string> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from: 'erp@app.test', to: [to] }, raw: `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nFrom the console test.\r\n` });
    return /queued as (\S+)/.exec(String(info.response))![1]!;
  } finally {
    client.close();
  }
}

const stateOf = async (id: string) => (await relay.relay.store.get(id))?.state;

/** Fails on an error shown on the page (role=alert with text) or logged by the browser. */
async function expectNoErrors(): Promise<void> {
  const shown = (await page.locator('[role=alert]').allTextContents()).filter((s) => s.trim());
  expect(shown, 'errors shown on the page').toEqual([]);
  expect(problems.join('\n'), 'errors in the browser console').toBe('');
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** At a phone's width nothing may stick out sideways (a page wider than the screen). */
async function phoneShot(name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    expect(await page.evaluate<number>('document.documentElement.scrollWidth'), `${name} is wider than a phone`).toBeLessThanOrEqual(390);
    await shot(name);
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const app = { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login };
  relay = await startTestRelay({
    routes: { m365: { transport: 'graph', mailbox: DEMO.relay.address, credentials: app, endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath] } },
    admin: {
      host: '127.0.0.1',
      port: 0,
      users: { [ADMIN.user]: { passwordHash: await hashPassword(ADMIN.password) }, [VIEWER.user]: { passwordHash: await hashPassword(VIEWER.password), role: 'read-only' } },
    },
  });
  base = relay.relay.admin!.url.replace(/\/$/, '');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
});
afterEach(async () => {
  await expectNoErrors();
});
afterAll(async () => {
  await browser?.close();
  await relay?.stop();
});

describe('the admin console in Chromium', () => {
  let delivered: string;
  let failed: string;

  it('signs in with the keyboard and shows the overview', async () => {
    delivered = await submit(DEMO.relay.address, DEMO.alice.address, 'Invoice 4711');
    // bob@ is not a mailbox relay@ may send as: Exchange Online refuses it with SendAsDenied, for good.
    failed = await submit(DEMO.bob.address, DEMO.alice.address, 'Payslip November');
    await until(async () => (await stateOf(delivered)) === 'delivered' && (await stateOf(failed)) === 'failed', 15_000, () => 'messages did not reach delivered/failed');

    await page.goto(`${base}/`);
    await page.getByLabel('User').fill(ADMIN.user);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.locator('svg.chart').count()).toBe(1);
    expect(await page.locator('.route-list').textContent()).toContain('m365');
    await shot('overview');
    await phoneShot('overview-phone');
  });

  it('lists a delivered and a failed message in the queue', async () => {
    await page.getByRole('link', { name: 'Queue', exact: true }).click();
    await page.getByRole('heading', { name: 'Queue', exact: true }).waitFor();
    const row = (id: string) => page.locator('tr', { has: page.getByRole('link', { name: id, exact: true }) });
    expect(await row(delivered).locator('.badge').textContent()).toBe('delivered');
    expect(await row(failed).locator('.badge').textContent()).toBe('failed');
    expect(await row(failed).textContent()).toMatch(/ago/);
    await shot('queue');
    await phoneShot('queue-phone');
  });

  it('opens the failed message and shows the upstream words, the diagnosis and the fix', async () => {
    await page.getByRole('link', { name: failed, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`Message ${failed}`) }).waitFor();
    const timeline = await page.locator('.timeline').textContent();
    expect(timeline).toContain('Upstream said: 403');
    expect(timeline).toMatch(/Diagnosis: Mailbox relay@contoso\.example may not send as bob@contoso\.example/);
    expect(timeline).toMatch(/Fix: Grant it in Exchange Online PowerShell/);
    expect(await page.locator('.headers').textContent()).toContain('Payslip November');
    await shot('message-failed');
    await phoneShot('message-failed-phone');
  });

  it('retries the message after the tenant is fixed, and shows it delivered', async () => {
    t.edit((d) => d.exchange.recipientPermissions.push({ mailbox: DEMO.bob.address, trustee: DEMO.relay.address, accessRights: ['SendAs'] }));
    await page.getByRole('button', { name: 'Retry now' }).click();
    await until(async () => (await stateOf(failed)) === 'delivered', 15_000, () => 'the retried message was not delivered');
    await page.reload();
    await page.getByRole('heading', { name: new RegExp(`Message ${failed}`) }).waitFor();
    expect(await page.getByRole('heading', { level: 1 }).locator('.badge').textContent()).toBe('delivered');
    await shot('message-retried');
  });

  it('sends a test mail from the routes page and shows it delivered, live', async () => {
    await page.getByRole('link', { name: 'Routes', exact: true }).click();
    await page.getByRole('heading', { name: 'Routes', exact: true }).waitFor();
    expect(await page.locator('#route-m365').textContent()).toMatch(/OK|degraded/);
    await page.getByLabel('To').fill(DEMO.alice.address);
    await page.getByLabel('From').fill(DEMO.relay.address);
    await page.getByRole('button', { name: 'Send test mail' }).click();
    await page.locator('.test-result .badge', { hasText: 'delivered' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('.test-result').textContent()).toMatch(/queued as/);
    await page.locator('#route-m365 details.guide summary').press('Enter'); // the setup guide, opened with the keyboard
    expect(await page.locator('#route-m365 details.guide').textContent()).toContain(DEMO.appOnly.clientId);
    await shot('routes');
    await phoneShot('routes-phone');
  });

  it('cancels a selection of messages from the queue at once', async () => {
    await page.getByRole('link', { name: 'Routes', exact: true }).click();
    await page.getByRole('heading', { name: 'Routes', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    const held = [await submit(DEMO.relay.address, DEMO.alice.address, 'Held 1'), await submit(DEMO.relay.address, DEMO.bob.address, 'Held 2')];
    await until(async () => (await Promise.all(held.map(stateOf))).every((s) => s === 'held'), 15_000, () => 'messages were not held by the paused route');
    await page.getByRole('link', { name: 'Queue', exact: true }).click();
    await page.getByLabel('State').selectOption('held');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/state=held/);
    for (const id of held) await page.getByLabel(`Select ${id}`).check();
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    await page.getByRole('status').filter({ hasText: 'cancel: 2 done' }).waitFor({ timeout: 5000 });
    expect(await Promise.all(held.map(stateOf))).toEqual(['cancelled', 'cancelled']);
    await shot('queue-bulk-cancel');
  });

  it('shows a read-only user the queue, messages and routes without the buttons it may not use', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('User').fill(VIEWER.user);
    await page.getByLabel('Password').fill(VIEWER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.locator('#who').textContent()).toContain('(read-only)');

    await page.getByRole('link', { name: 'Queue', exact: true }).click();
    await page.getByRole('heading', { name: 'Queue', exact: true }).waitFor();
    await page.getByRole('link', { name: delivered, exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /selected/ }).count()).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    await shot('queue-read-only');

    await page.getByRole('link', { name: delivered, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`Message ${delivered}`) }).waitFor();
    expect(await page.locator('.headers').textContent()).toContain('Invoice 4711');
    for (const name of ['Retry now', 'Cancel', 'Delete']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    expect(await page.getByRole('link', { name: 'Download .eml' }).count()).toBe(0);
    await shot('message-read-only');

    await page.getByRole('link', { name: 'Routes', exact: true }).click();
    await page.getByRole('heading', { name: 'Routes', exact: true }).waitFor();
    expect(await page.locator('#route-m365').textContent()).toContain('m365');
    for (const name of ['Send test mail', 'Pause', 'Resume', 'Release held messages']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    await shot('routes-read-only');
  });
});
