/**
 * The live operations page at GET /dashboard in a real browser (acceptance 1 and 3): Debian's headless Chromium loads
 * it with no request leaving the machine, signs in as the demo admin, shows the figures, and follows an order placed
 * through the API and an export job through subscriptions; a USER sees notes instead of the staff panels and never
 * a FORBIDDEN error. Screenshots for a wide screen and a phone go to test/artifacts/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoAccounts, seedDemoData, type DemoLogin } from '../../src/schema/demo-data.js';
import { DASHBOARD_CSP } from '../../src/server/dashboard.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { artifactPath, CHROMIUM, externalRequests, hasChromium, launchChromium, recordRequests } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

if (!hasChromium) process.stderr.write(`dashboard.test.ts skipped: ${CHROMIUM} is absent (CI installs Debian's chromium)\n`);

const PLACE_ORDER = /* GraphQL */ `
  mutation Place($input: PlaceOrderInput!) {
    placeOrder(input: $input) { order { id total } userErrors { field message code } }
  }
`;

let server: TestServer;
let browser: Browser;
let demo: DemoLogin[];
let shopper: TestUser;
let staff: TestUser;
const contexts: BrowserContext[] = [];

/** A page in its own browser context, recording its requests, GraphQL answers, socket frames and console errors. */
async function openPage(viewport = { width: 1600, height: 1000 }) {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  const requests = recordRequests(page);
  const received: string[] = [];
  const sent: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => new URL(request.url()).pathname === '/graphql' && sent.push(request.postData() ?? ''));
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/graphql')
      void response.text().then(
        (text) => received.push(text),
        () => {},
      );
  });
  page.on('websocket', (socket) => {
    socket.on('framereceived', (frame) => received.push(String(frame.payload)));
    socket.on('framesent', (frame) => sent.push(String(frame.payload)));
  });
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.on('pageerror', (error) => problems.push(error.message));
  return { page, requests, received, sent, problems };
}

/** The data-progress values the job row of `kind` has shown, from now on, in order (without repeats). */
async function watchProgress(page: Page, kind: string): Promise<() => Promise<string[]>> {
  const key = `progress_${kind}`;
  await page.evaluate(
    ([name, jobKind]) => {
      const seen: string[] = [];
      (window as unknown as Record<string, string[]>)[name!] = seen;
      new MutationObserver(() => {
        const value = document.querySelector(`#job-list li[data-kind="${jobKind}"]`)?.getAttribute('data-progress');
        if (value && seen.at(-1) !== value) seen.push(value);
      }).observe(document.getElementById('job-list')!, { childList: true, subtree: true, attributes: true });
    },
    [key, kind],
  );
  return () => page.evaluate((name) => (window as unknown as Record<string, string[]>)[name], key);
}

async function signIn(page: Page, login: string, password: string) {
  await page.goto(`${server.url}/dashboard`);
  await page.getByLabel('Username or e-mail').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect.poll(() => page.locator('#state').getAttribute('data-state'), { timeout: 20_000 }).toBe('connected');
}

const account = (role: DemoLogin['role']) => demo.find((entry) => entry.role === role)!;

async function itemId(sku: string, token: string): Promise<string> {
  const { body } = await server.gql('{ items(first: 100) { nodes { id sku } } }', undefined, { token });
  const found = body.data!.items.nodes.find((node: { sku: string }) => node.sku === sku);
  if (!found) throw new Error(`no item ${sku}`);
  return found.id;
}

beforeAll(async () => {
  if (!hasChromium) return;
  // Each e-mail takes 250 ms, so a SEND_EMAIL job runs for a few seconds and reports progress as it goes.
  server = await startServer({ JOB_POLL_INTERVAL_MS: '50', JOB_EMAIL_DELAY_MS: '250' });
  await seedDemoData(server.app.container);
  demo = await seedDemoAccounts(server.app.container);
  shopper = await createUser(server);
  staff = await createUser(server, { role: 'ADMIN' });
  // Two orders before the page opens: the chart and the feed load them.
  const id = await itemId('BK1002', shopper.token);
  for (let i = 0; i < 2; i += 1) {
    const placed = await server.gql(PLACE_ORDER, { input: { itemId: id, quantity: 1 } }, { token: shopper.token });
    expect(placed.body.data?.placeOrder.userErrors).toEqual([]);
  }
  browser = await launchChromium();
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

describe.skipIf(!hasChromium)('the dashboard at GET /dashboard', () => {
  let admin: Awaited<ReturnType<typeof openPage>>;

  it('is a self-contained page with a policy that allows only its own files and socket', async () => {
    const response = await fetch(`${server.url}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['uplot.js', 'uplot.css', 'graphql-ws.js', 'dashboard.js', 'dashboard.css']) {
      expect((await fetch(`${server.url}/dashboard/assets/${asset}`)).status).toBe(200);
    }
    expect((await fetch(`${server.url}/dashboard/assets/nope.js`)).status).toBe(404);
  });

  it('signs in as the demo admin and shows the figures, loading nothing from outside the machine', async () => {
    admin = await openPage();
    await signIn(admin.page, account('ADMIN').login, account('ADMIN').password);
    const { page } = admin;
    await expect.poll(() => page.locator('#kpi-orders').innerText(), { timeout: 10_000 }).toBe('2');
    await expect.poll(() => page.locator('#kpi-online').innerText()).not.toBe('–');
    await expect.poll(() => page.locator('#chart').getAttribute('data-orders'), { timeout: 10_000 }).toBe('2');
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#order-feed li').count()).toBe(2);
    // The demo catalog has items with little or no stock.
    await expect.poll(() => page.locator('#stock-list li').count()).toBeGreaterThan(0);
    expect(await page.locator('#who').innerText()).toContain('demo_admin');
    expect(await page.locator('.note').count()).toBe(0);
    expect(admin.requests.some((url) => /^ws:\/\/127\.0\.0\.1:\d+\/graphql$/.test(url))).toBe(true);
    expect(externalRequests(admin.requests)).toEqual([]);
    expect(admin.problems).toEqual([]);
  });

  it('shows an order placed through the API in the feed and the chart within 2 s', async () => {
    const { page } = admin;
    const id = await itemId('HM1003', shopper.token);
    const placed = await server.gql(PLACE_ORDER, { input: { itemId: id, quantity: 2 } }, { token: shopper.token });
    const order = placed.body.data!.placeOrder.order;
    await page.locator(`#order-feed li[data-order-id="${order.id}"]`).waitFor({ timeout: 2_000 });
    await expect.poll(() => page.locator('#chart').getAttribute('data-orders'), { timeout: 2_000 }).toBe('3');
    expect(await page.locator('#order-feed li').first().getAttribute('data-order-id')).toBe(order.id);
    // The stock taken by the order arrives through itemChanged, and the figures catch up on the next tick.
    await expect.poll(() => page.locator('#kpi-orders').innerText(), { timeout: 10_000 }).toBe('3');
  });

  it('keeps low stock and unread notifications current through itemChanged and notificationReceived', async () => {
    const { page } = admin;
    const sku = 'EL1002';
    expect(await page.locator(`#stock-list li[data-sku="${sku}"]`).count()).toBe(0);
    const updated = await server.gql(
      'mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { stock } userErrors { message } } }',
      { input: { id: await itemId(sku, staff.token), stock: 2 } },
      { token: staff.token },
    );
    expect(updated.body.data?.updateItem.item.stock).toBe(2);
    await page.locator(`#stock-list li[data-sku="${sku}"]`).waitFor({ timeout: 5_000 });
    expect(await page.locator(`#stock-list li[data-sku="${sku}"] .count`).innerText()).toBe('2');

    const users = await server.gql('{ users(first: 100) { nodes { id username } } }', undefined, { token: staff.token });
    const adminId = users.body.data!.users.nodes.find((node: { username: string }) => node.username === 'demo_admin').id;
    const before = Number(await page.locator('#unread-count').innerText());
    const sent = await server.gql(
      'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { userErrors { message } } }',
      { input: { userIds: [adminId], title: 'Delivery at the back door', body: 'Twelve boxes of mugs.', kind: 'WARNING' } },
      { token: staff.token },
    );
    expect(sent.body.data?.sendNotification.userErrors).toEqual([]);
    await expect.poll(() => page.locator('#unread-count').innerText(), { timeout: 5_000 }).toBe(String(before + 1));
    expect(await page.locator('#notification-list').innerText()).toContain('Delivery at the back door');
  });

  it('follows an export job started from the page until its progress bar is full', async () => {
    const { page } = admin;
    const seen = await watchProgress(page, 'EXPORT_ITEMS');
    await page.getByRole('button', { name: 'Export catalog' }).click();
    const row = page.locator('#job-list li[data-kind="EXPORT_ITEMS"]');
    await row.waitFor({ timeout: 10_000 });
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('COMPLETED');
    expect(await row.getAttribute('data-progress')).toBe('100');
    // Queued at 0 %, then moved to 100 % by jobUpdated.
    expect((await seen())[0]).toBe('0');
    expect((await seen()).at(-1)).toBe('100');
    expect(await row.locator('progress').evaluate((bar) => (bar as HTMLProgressElement).value)).toBe(100);
    expect(await row.innerText()).toContain('100 %');
  });

  it('finds a job started elsewhere through the running-jobs figure and follows its progress', async () => {
    const { page } = admin;
    const seen = await watchProgress(page, 'SEND_EMAIL');
    const to = Array.from({ length: 12 }, (_, i) => `reader${i}@example.com`);
    const started = await server.gql(
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      { input: { kind: 'SEND_EMAIL', params: { to, subject: 'Stock take', body: 'Friday at nine.' } } },
      { token: staff.token },
    );
    const jobId = started.body.data!.startJob.job.id;
    const row = page.locator(`#job-list li[data-job-id="${jobId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('COMPLETED');
    const values = (await seen()).map(Number);
    expect(values.at(-1)).toBe(100);
    // At least one step between 0 and 100 arrived while it ran.
    expect(values.some((value) => value > 0 && value < 100)).toBe(true);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('leaves screenshots for a wide screen and a phone', async () => {
    const { page } = admin;
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForTimeout(300); // the chart follows its box on resize
    await page.screenshot({ path: artifactPath('dashboard-wide.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: artifactPath('dashboard-phone.png'), fullPage: true });
    const board = await page.locator('#board').boundingBox();
    expect(board!.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1600, height: 1000 });
  });

  it('shows a USER notes instead of the staff panels, and no FORBIDDEN error reaches the page', async () => {
    const user = await openPage({ width: 1280, height: 900 });
    await signIn(user.page, account('USER').login, account('USER').password);
    const { page } = user;
    for (const name of ['kpis', 'chart', 'orders']) {
      const note = page.locator(`[data-panel="${name}"] .note`);
      await expect.poll(() => note.isVisible()).toBe(true);
      expect(await note.innerText()).toMatch(/Staff only/);
    }
    expect(await page.locator('[data-panel="chart"] canvas').count()).toBe(0);
    expect(await page.locator('#kpi-orders').isVisible()).toBe(false);
    // What a USER may see is there: the catalog's low stock, their notifications, their jobs.
    await expect.poll(() => page.locator('#stock-list li').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('[data-panel="stock"] .note').count()).toBe(0);
    expect(await page.locator('[data-panel="notifications"] .note').count()).toBe(0);
    // An order placed meanwhile (a staff-only stream) must not produce anything on this page.
    const id = await itemId('CL1003', shopper.token);
    await server.gql(PLACE_ORDER, { input: { itemId: id, quantity: 1 } }, { token: shopper.token });
    // Their own export runs and is followed like anyone's.
    await page.getByRole('button', { name: 'Export catalog' }).click();
    const row = page.locator('#job-list li[data-kind="EXPORT_ITEMS"]');
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('COMPLETED');
    await page.screenshot({ path: artifactPath('dashboard-user.png'), fullPage: true });
    expect(user.received.length).toBeGreaterThan(3);
    expect(user.received.join('\n')).not.toMatch(/FORBIDDEN/);
    // The staff operations were never sent; the ones a USER may run were.
    const operations = user.sent.join('\n');
    expect(operations).toMatch(/itemChanged/);
    expect(operations).toMatch(/notificationReceived/);
    expect(operations).not.toMatch(/orderPlaced|dashboardStats|DashboardStats|DashboardOrders/);
    expect(await page.locator('#toast').count()).toBe(0);
    expect(user.problems).toEqual([]);
    expect(externalRequests(user.requests)).toEqual([]);
  });

  it('says why a sign-in failed and stays signed out', async () => {
    const { page, problems } = await openPage({ width: 800, height: 700 });
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('Username or e-mail').fill('demo_admin');
    await page.getByLabel('Password').fill('Not-the-passw0rd');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#sign-in-error').innerText(), { timeout: 10_000 }).not.toBe('');
    expect(await page.locator('#state').getAttribute('data-state')).toBe('signed-out');
    expect(await page.locator('#board').isVisible()).toBe(false);
    expect(problems).toEqual([]);
  });

  it('signs out: the page forgets the token and shows the form', async () => {
    const { page } = admin;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.locator('#state').getAttribute('data-state')).toBe('signed-out');
    expect(await page.locator('#sign-in-form').isVisible()).toBe(true);
    await page.screenshot({ path: artifactPath('dashboard-sign-in.png') });
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe('{}{}');
  });
});

describe('whether GET /dashboard exists', () => {
  it('is a 404 when GraphiQL is off and DASHBOARD is not set, and served when DASHBOARD is on', async () => {
    const off = await startServer({ GRAPHIQL: 'false' });
    try {
      expect((await fetch(`${off.url}/dashboard`)).status).toBe(404);
      expect((await fetch(`${off.url}/dashboard/assets/dashboard.js`)).status).toBe(404);
    } finally {
      await off.close();
    }
    const on = await startServer({ GRAPHIQL: 'false', DASHBOARD: 'true' });
    try {
      expect((await fetch(`${on.url}/dashboard`)).status).toBe(200);
      // GraphiQL itself stays off.
      expect((await fetch(`${on.url}/graphql`, { headers: { accept: 'text/html' } })).headers.get('content-type')).not.toMatch(/text\/html/);
    } finally {
      await on.close();
    }
  });
});
