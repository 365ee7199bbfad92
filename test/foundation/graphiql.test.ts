/**
 * GraphiQL in a real browser (acceptance 8): Debian's headless Chromium, driven by playwright-core, loads the page
 * with no request leaving the machine, runs a query with the headers editor's Authorization header, receives a
 * subscription event over graphql-ws, and leaves a screenshot in test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.js';
import { ARTIFACTS, CHROMIUM, hasChromium, launchChromium } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

if (!hasChromium) process.stderr.write(`graphiql.test.ts skipped: ${CHROMIUM} is absent (CI installs Debian's chromium)\n`);

let server: TestServer;
let browser: Browser;
let page: Page;
let token: string;
const requests: string[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  server = await startServer();
  ({ token } = await createUser(server, { role: 'ADMIN' }));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => requests.push(socket.url()));
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Replaces the text of a GraphiQL editor (CodeMirror 5 keeps its instance on the wrapper element). */
async function setEditor(editor: 'query' | 'headers', text: string) {
  const selector = editor === 'query' ? '.graphiql-query-editor .CodeMirror' : '.graphiql-editor-tool .CodeMirror';
  // The variables and headers editors share the tool area; only the selected one is visible.
  const target = page.locator(selector).filter({ visible: true }).first();
  await target.waitFor();
  await target.evaluate((element, value) => {
    (element as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue(value);
  }, text);
}

const result = () => page.locator('.graphiql-response .CodeMirror-code, .result-window .CodeMirror-code').first();

async function openHeadersEditor() {
  await page.getByRole('button', { name: 'Headers' }).click();
}

// Operations are anonymous: GraphiQL updates the operation name it sends a moment after an edit, so a named
// operation typed just before a click could be sent with the previous name.
describe.skipIf(!hasChromium)('GraphiQL at GET /graphql', () => {
  it('loads from the server alone and runs a query', async () => {
    await page.goto(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    expect(await page.locator('.graphiql-query-editor .CodeMirror-code').innerText()).toContain('Welcome to OpsHub');
    // The default tab runs as it is, without a token, and shows data rather than "Authentication required".
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => result().innerText(), { timeout: 15_000 }).toContain('"remaining"');
    expect(await result().innerText()).not.toContain('"errors"');
    await setEditor('query', '{ __typename }');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => result().innerText(), { timeout: 15_000 }).toContain('"__typename": "Query"');
  });

  it('sends the Authorization header from the headers editor', async () => {
    await server.gql(
      'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } } }',
      { input: { sku: 'GQ0001', name: 'Graphiql gadget', price: 3, category: 'ELECTRONICS' } },
      { token },
    );
    await setEditor('query', '{ items(first: 5) { nodes { sku name } totalCount } }');
    await openHeadersEditor();
    await setEditor('headers', '{}');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => result().innerText(), { timeout: 15_000 }).toContain('UNAUTHENTICATED');

    await setEditor('headers', JSON.stringify({ Authorization: `Bearer ${token}` }));
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => result().innerText(), { timeout: 15_000 }).toContain('Graphiql gadget');
  });

  it('receives subscription events over graphql-ws with the same header', async () => {
    await setEditor('query', 'subscription { itemChanged { sku name } }');
    await page.locator('.graphiql-execute-button').click();
    // Publish until the browser's subscription has seen one: the page gives no signal when it is registered.
    await expect
      .poll(
        async () => {
          await server.gql(
            'mutation($input: UpdateItemInput!) { updateItem(input: $input) { item { id } } }',
            { input: { id: (await itemId('GQ0001'))!, name: 'Graphiql gadget v2' } },
            { token },
          );
          return result().innerText();
        },
        { timeout: 15_000, interval: 250 },
      )
      .toContain('Graphiql gadget v2');
    expect(requests.some((url) => url.startsWith('ws://127.0.0.1:') && url.endsWith('/graphql'))).toBe(true);
  });

  it('made no request that left the machine, and leaves a screenshot', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('graphiql.png', ARTIFACTS).pathname, fullPage: true });
    expect(requests.length).toBeGreaterThan(5);
    const external = requests.filter((url) => {
      const { protocol, hostname } = new URL(url);
      return !['data:', 'blob:'].includes(protocol) && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
    });
    expect(external).toEqual([]);
  });
});

async function itemId(sku: string): Promise<string | undefined> {
  const { body } = await server.gql('{ items(first: 100) { nodes { id sku } } }', undefined, { token });
  return body.data!.items.nodes.find((n: { sku: string }) => n.sku === sku)?.id;
}
