/**
 * The dashboard across a server restart (acceptance 2): the real entry point as a process, killed while the page is
 * open. The page shows "reconnecting", an order is placed through another process on the same data while the page
 * has no server, and when the server is back on its port the page reconnects, shows that order in the feed and the
 * chart, and follows new events again. The servers run with GRAPHIQL off and DASHBOARD on.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, CHROMIUM, externalRequests, hasChromium, launchChromium, recordRequests } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { demoPasswords, freePort, gql, loginToken, spawnServer, stopAll, tempDataDir, type SpawnedServer } from '../helpers/spawn.js';

if (!hasChromium) process.stderr.write(`reconnect.test.ts skipped: ${CHROMIUM} is absent (CI installs Debian's chromium)\n`);

// Three server starts (PGlite boots and migrates each time) on a busy machine.
const RESTART_TEST_TIMEOUT_MS = 240_000;

const PLACE_ORDER = /* GraphQL */ `
  mutation Place($input: PlaceOrderInput!) {
    placeOrder(input: $input) { order { id } userErrors { message } }
  }
`;

let browser: Browser;
let signedInAt = 0;
let liveUrl = '';
let shopperPassword = '';
const renewals: number[] = [];
let page: Page;
let requests: string[];
let database: TestDatabase;
const data = tempDataDir();

/** Same data every time: the PostgreSQL database of this file, or one PGlite DATA_DIR. */
function start(port: number | 0): SpawnedServer {
  return spawnServer({
    PORT: String(port),
    DATA_DIR: data.dir,
    DATABASE_URL: database.url ?? '',
    SEED_DEMO_DATA: 'true',
    // The shortest lifetime: the page renews at 80 % of it, within this file's run.
    ACCESS_TOKEN_TTL_MINUTES: '1',
    GRAPHIQL: 'false',
    DASHBOARD: 'true',
  });
}

async function placeOrder(url: string, token: string): Promise<string> {
  const items = await gql(url, '{ items(first: 1) { nodes { id } } }', undefined, token);
  const placed = await gql(url, PLACE_ORDER, { input: { itemId: items.body.data.items.nodes[0].id, quantity: 1 } }, token);
  expect(placed.body.data?.placeOrder.userErrors).toEqual([]);
  return placed.body.data.placeOrder.order.id;
}

const connection = () => page.locator('#state').getAttribute('data-state');

beforeAll(async () => {
  if (!hasChromium) return;
  database = await createTestDatabase();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  requests = recordRequests(page);
  page.on('request', (request) => request.postData()?.includes('DashboardRenew') && renewals.push(Date.now()));
});

afterAll(async () => {
  await browser?.close();
  await stopAll();
  await database?.drop();
  data.remove();
});

describe.skipIf(!hasChromium)('the dashboard when its server is killed and restarted', () => {
  it(
    'shows "reconnecting", then resumes with the orders placed while it was away',
    async () => {
      const port = await freePort();
      const first = start(port);
      const origin = new URL(await first.ready).origin;
      const passwords = demoPasswords(first.logs);
      expect(Object.keys(passwords).sort()).toEqual(['demo_admin', 'demo_user']);

      await page.goto(`${origin}/dashboard`);
      await page.getByLabel('Username or e-mail').fill('demo_admin');
      await page.getByLabel('Password').fill(passwords.demo_admin!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      signedInAt = Date.now();
      await expect.poll(connection, { timeout: 20_000 }).toBe('connected');
      await expect.poll(() => page.locator('#kpi-orders').innerText(), { timeout: 10_000 }).toBe('0');
      await expect.poll(() => page.locator('#stock-list li').count(), { timeout: 10_000 }).toBeGreaterThan(0);

      await first.stop('SIGKILL');
      await expect.poll(connection, { timeout: 10_000 }).toBe('reconnecting');
      expect(await page.locator('#state').innerText()).toMatch(/reconnecting/);
      await page.screenshot({ path: artifactPath('dashboard-reconnecting.png') });

      // Another process on the same data, on another port: the page cannot reach it.
      const meanwhile = start(0);
      const meanwhileUrl = await meanwhile.ready;
      const shopper = await loginToken(meanwhileUrl, 'demo_user', passwords.demo_user!);
      const missed = await placeOrder(meanwhileUrl, shopper);
      await meanwhile.stop('SIGTERM');
      expect(await connection()).toBe('reconnecting');

      const again = start(port);
      const url = await again.ready;
      liveUrl = url;
      shopperPassword = passwords.demo_user!;
      await expect.poll(connection, { timeout: 30_000 }).toBe('connected');
      await page.locator(`#order-feed li[data-order-id="${missed}"]`).waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('#chart').getAttribute('data-orders'), { timeout: 10_000 }).toBe('1');

      // Live again: a new order arrives through the resumed subscription.
      const fresh = await placeOrder(url, await loginToken(url, 'demo_user', passwords.demo_user!));
      await page.locator(`#order-feed li[data-order-id="${fresh}"]`).waitFor({ timeout: 5_000 });
      await expect.poll(() => page.locator('#chart').getAttribute('data-orders'), { timeout: 5_000 }).toBe('2');
      expect(await page.locator('#toast').allInnerTexts()).toEqual([]);
      expect(externalRequests(requests)).toEqual([]);
    },
    RESTART_TEST_TIMEOUT_MS,
  );

  it(
    'renews its one-minute token before it expires, without showing a reconnection, and keeps subscribing with the new one',
    async () => {
      expect(liveUrl).not.toBe('');
      const states = await page.evaluate(() => {
        const seen: string[] = [];
        const box = document.getElementById('state')!;
        new MutationObserver(() => seen.push(box.dataset.state!)).observe(box, { attributes: true, attributeFilter: ['data-state'] });
        (window as unknown as { states: string[] }).states = seen;
        return seen;
      });
      expect(states).toEqual([]);
      // Due at 48 s of the 60 s lifetime.
      await expect.poll(() => renewals.length, { timeout: 90_000, interval: 500 }).toBeGreaterThan(0);
      expect(renewals[0]! - signedInAt).toBeLessThan(60_000);
      // Past the first token's expiry: a new subscription (the export's jobUpdated) is admitted with the renewed token.
      const expiry = signedInAt + 62_000;
      if (Date.now() < expiry) await new Promise((resolve) => setTimeout(resolve, expiry - Date.now()));
      await page.getByRole('button', { name: 'Export catalog' }).click();
      const row = page.locator('#job-list li[data-kind="EXPORT_ITEMS"]');
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('COMPLETED');
      const fresh = await placeOrder(liveUrl, await loginToken(liveUrl, 'demo_user', shopperPassword));
      await page.locator(`#order-feed li[data-order-id="${fresh}"]`).waitFor({ timeout: 5_000 });
      expect(await connection()).toBe('connected');
      const seen = await page.evaluate(() => (window as unknown as { states: string[] }).states);
      expect(seen.filter((name) => name !== 'connected')).toEqual([]);
      expect(await page.locator('#toast').allInnerTexts()).toEqual([]);
    },
    RESTART_TEST_TIMEOUT_MS,
  );
});
