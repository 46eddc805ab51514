/**
 * The console in a real browser (Debian's Chromium, driven by playwright-core) against a relay
 * delivering into the Microsoft 365 sandbox: sign in, see a delivered and a failed message, read
 * the failed one's diagnosis, retry it after fixing the tenant, and send a test mail from the
 * routes page; a read-only user sees the same pages without the buttons the API would refuse.
 * The queue shows Subjects, whole errors and one-line sizes and takes new mail in without a
 * reload; a message page draws its path, says Microsoft's words and the diagnosis once, copies
 * the fix's commands and links the DSN the failure caused. Every page is saved as a screenshot
 * under test-results/console/ (its size checked), and any error the page shows or the
 * browser's console logs fails the test.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { State } from '../../src/queue/states.js';
import { ROOT, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { ADMIN } from './helpers.js';

const VIEWER = { user: 'viewer', password: 'a read-only passphrase for the console' };
registerSecrets(VIEWER.password);

const SHOTS = join(ROOT, 'test-results', 'console');
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

/** A full-page screenshot, its width the window's and its height within what the page should take. */
async function shot(name: string, height: [number, number] = [300, 6000]): Promise<void> {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  const png = readFileSync(path);
  const size = { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }; // the PNG's IHDR
  expect(size.width, `${name}'s width`).toBe(page.viewportSize()!.width);
  expect(size.height, `${name}'s height`).toBeGreaterThanOrEqual(height[0]);
  expect(size.height, `${name}'s height`).toBeLessThanOrEqual(height[1]);
}

/** How many lines the element's text takes on screen. */
const lines = (selector: string) =>
  page.locator(selector).evaluate((el) => {
    // Runs in the page (the tests' own types have no DOM).
    const range = (globalThis as unknown as { document: { createRange(): { selectNodeContents(node: unknown): void; getClientRects(): { top: number }[] } } }).document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  });

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
    // Bounces read every 2 s: the bounced message's page needs no long wait.
    routes: { m365: { transport: 'graph', mailbox: DEMO.relay.address, credentials: app, endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath], bounces: { every: '2s' } } },
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

  it('shows each message\'s Subject, its last error whole and its size on one line', async () => {
    const row = (id: string) => `tr[data-id="${id}"]`;
    await page.getByRole('columnheader', { name: 'Subject' }).waitFor();
    // The states are the relay's (a state added there shows up here without a console change).
    expect(await page.getByLabel('State').locator('option').allTextContents()).toEqual(['any', ...Object.values(State)]);
    expect(await page.locator(`${row(failed)} td.subject`).textContent()).toBe('Payslip November');
    expect(await page.locator(`${row(delivered)} td.subject`).textContent()).toBe('Invoice 4711');
    const lastError = (await relay.relay.store.get(failed))!.lastError!;
    expect(lastError.length).toBeGreaterThan(60);
    const error = page.locator(`${row(failed)} td.last-error`);
    expect(await error.textContent()).toBe(lastError);
    const style = (globalThis as unknown as { getComputedStyle?: (el: unknown) => { whiteSpace: string } });
    expect(await error.evaluate((el) => ({ clipped: el.scrollWidth > el.clientWidth, whiteSpace: (globalThis as unknown as Required<typeof style>).getComputedStyle(el).whiteSpace }))).toEqual({ clipped: false, whiteSpace: 'normal' });
    expect(await lines(`${row(failed)} td.last-error`), 'a long error wraps').toBeGreaterThan(1);
    // Not pushed out of sight either: the whole cell is inside the window (no sideways scrolling to read it).
    const box = (await error.boundingBox())!;
    const frame = (await page.locator('.table-wrap').boundingBox())!;
    expect(box.x + box.width, 'the error\'s right edge').toBeLessThanOrEqual(frame.x + frame.width);
    expect(await lines(`${row(failed)} td.nowrap:has-text("B")`), 'the size').toBe(1);
    await shot('queue-subject-error', [300, 2000]);
  });

  it('takes a new message into the queue page as it arrives, without a reload', async () => {
    await page.evaluate('window.notReloaded = true');
    await page.getByText('Live: updates as mail moves').waitFor();
    const arrived = await submit(DEMO.relay.address, DEMO.alice.address, '=?UTF-8?Q?Lieferschein_f=C3=BCr_M=C3=A4rz?=');
    const row = page.locator(`tr[data-id="${arrived}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.subject').textContent()).toBe('Lieferschein für März');
    await row.locator('.badge', { hasText: 'delivered' }).waitFor({ timeout: 10_000 }); // and its state follows
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await shot('queue-live', [300, 2000]);
  });

  it('asks every 5 s instead where the event stream cannot be had', async () => {
    const context = await browser.newContext({ storageState: await page.context().storageState() }); // signed in too: the same cookie
    const polling = await context.newPage();
    try {
      await polling.addInitScript('delete window.EventSource');
      await polling.goto(`${base}/queue`);
      await polling.getByText('Updates every 5 s').waitFor();
      const arrived = await submit(DEMO.relay.address, DEMO.alice.address, 'Polled');
      await polling.locator(`tr[data-id="${arrived}"]`).waitFor({ timeout: 15_000 });
    } finally {
      await context.close();
    }
  });

  it('opens the failed message and shows the upstream words, the diagnosis and the fix', async () => {
    await page.getByRole('link', { name: failed, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`Message ${failed}`) }).waitFor();
    const said = page.locator('.what-happened');
    expect(await said.textContent()).toContain('Microsoft 365 said: 403');
    expect(await said.textContent()).toMatch(/Diagnosis: Mailbox relay@contoso\.example may not send as bob@contoso\.example/);
    expect(await said.textContent()).toMatch(/Fix: Grant it in Exchange Online PowerShell/);
    expect(await page.locator('.headers').textContent()).toContain('Payslip November');
    expect(await page.locator('.subject-line').textContent()).toBe('Subject: Payslip November');
    // Microsoft's words and the diagnosis, once on the page.
    const { attempts } = (await relay.relay.store.get(failed))!;
    const text = (await page.locator('main').textContent())!;
    const count = (needle: string) => text.split(needle).length - 1;
    expect(count(attempts[0]!.reply!.text), 'Microsoft\'s words').toBe(1);
    const diagnosis = 'Mailbox relay@contoso.example may not send as bob@contoso.example';
    expect(attempts[0]!.diagnosis).toContain(attempts[0]!.reply!.text); // the API's diagnosis quotes Microsoft; the page does not repeat it
    expect(count(diagnosis), 'the diagnosis').toBe(1);
    await shot('message-failed', [600, 4000]);
    await phoneShot('message-failed-phone');
  });

  it('draws the failed message\'s path: app, listener, route and Microsoft 365, each with its time and outcome', async () => {
    const steps = page.locator('ol.path > li');
    expect(await steps.count()).toBe(4);
    const texts = await steps.allTextContents();
    expect(texts[0]).toMatch(/^App.*erp|App/);
    expect(texts[1]).toMatch(/^Listener.*accepted/);
    expect(texts[2]).toMatch(/^Route\s*m365.*graph.*1 attempt/);
    expect(texts[3]).toMatch(/^Microsoft 365\s*Microsoft Graph sendMail.*permanent.*403/);
    for (let i = 0; i < 4; i++) expect(await steps.nth(i).locator('time').count(), `step ${i + 1}'s time`).toBe(1);
    expect(await steps.nth(3).locator('.step-bad').count()).toBe(1);
    await page.locator('ol.path').screenshot({ path: join(SHOTS, 'message-path.png') });
  });

  it('shows each command of the fix alone, and its button copies it', async () => {
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const command = page.locator('.what-happened .command').first();
    const code = (await command.locator('code').textContent())!;
    expect(code).toMatch(/^Add-RecipientPermission -Identity bob@contoso\.example -Trustee relay@contoso\.example -AccessRights SendAs/);
    expect(code).not.toMatch(/[.,;]$/);
    await command.getByRole('button', { name: /^Copy/ }).click();
    await command.getByRole('button', { name: /^Copy/ }).filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(code);
  });

  it('links the DSN the failure caused, as soon as it is written, and the DSN links back', async () => {
    await page.evaluate('window.notReloaded = true');
    const dsn = page.locator('.dsn-link a');
    await dsn.waitFor({ timeout: 15_000 });
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    const id = (await dsn.textContent())!;
    expect((await relay.relay.store.get(id))?.kind).toBe('dsn');
    await shot('message-dsn-link', [600, 4000]);
    await dsn.click();
    await page.getByRole('heading', { name: new RegExp(`Message ${id}`) }).waitFor();
    expect(await page.locator('.subject-line').textContent()).toBe('Subject: Undelivered Mail Returned to Sender: Payslip November');
    await page.getByRole('link', { name: failed, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`Message ${failed}`) }).waitFor();
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

  it("shows a recipient Microsoft 365 returned after delivery as bounced, in the report's words, once", async () => {
    const ghost = await submit(DEMO.relay.address, 'ghost@contoso.example', 'To nobody');
    await until(async () => (await stateOf(ghost)) === 'bounced', 20_000, () => 'the message to ghost@ was not bounced');
    await page.goto(`${base}/messages/${ghost}`);
    await page.getByRole('heading', { name: new RegExp(`Message ${ghost}`) }).waitFor();
    expect(await page.getByRole('heading', { level: 1 }).locator('.badge').textContent()).toBe('bounced');
    const said = (await page.locator('.what-happened').textContent())!;
    expect(said).toContain("Microsoft 365's non-delivery report: 550 5.1.10");
    expect(said).toMatch(/Diagnosis: Microsoft 365 accepted the message, then returned it/);
    const words = (await relay.relay.store.get(ghost))!.recipientDetails[0]!.reply!.text;
    expect(words).toMatch(/RecipientNotFound/);
    expect(said.split(words).length - 1, "the report's words").toBe(1);
    const microsoft = page.locator('ol.path > li').nth(3);
    expect(await microsoft.textContent()).toMatch(/delivered.*then\s*bounced/);
    expect(await microsoft.locator('.step-bad').count()).toBe(1);
    await shot('message-bounced', [600, 4000]);
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

  it('refuses the live stream to a browser that is not signed in', async () => {
    const stranger = await browser.newPage();
    try {
      await stranger.goto(`${base}/login`);
      const state = await stranger.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const source = new EventSource('/api/events/messages');
            source.onerror = () => resolve(source.readyState);
          }),
      );
      expect(state, 'EventSource.CLOSED: refused, not retried').toBe(2);
      expect((await fetch(`${base}/api/events/messages`)).status).toBe(401);
    } finally {
      await stranger.close();
    }
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
