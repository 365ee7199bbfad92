/**
 * Acceptance 6 in a real browser (headless Chromium): GraphiQL's documentation explorer shows the file types, and an
 * item image's signed URL renders in an <img> on a page of the server's origin, with no header. Screenshots go to
 * test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../helpers/auth.js';
import { ARTIFACTS, CHROMIUM, hasChromium, launchChromium } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { noisePng, uploadFile } from './helpers.js';

if (!hasChromium) process.stderr.write(`files/browser.test.ts skipped: ${CHROMIUM} is absent (CI installs Debian's chromium)\n`);

let server: TestServer;
let staff: TestUser;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!hasChromium) return;
  server = await startServer();
  staff = await createUser(server, { role: 'MODERATOR' });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.skipIf(!hasChromium)('files in a browser', () => {
  it("shows the File and Upload types in GraphiQL's documentation explorer", async () => {
    await page.goto(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const search = page.locator('.graphiql-doc-explorer-search input');
    await search.fill('File');
    await page
      .locator('.graphiql-doc-explorer-search [role="option"]', { hasText: /^File$/ })
      .first()
      .click();
    const explorer = page.locator('.graphiql-doc-explorer');
    await expect.poll(() => explorer.innerText(), { timeout: 15_000 }).toContain('An uploaded file, verified from its bytes');
    const text = await explorer.innerText();
    for (const field of ['sha256', 'thumbnailUrl', 'uploadedBy', 'displayName']) expect(text).toContain(field);
    await page.screenshot({ path: new URL('files-docs.png', ARTIFACTS).pathname });

    await search.fill('Upload');
    await page
      .locator('.graphiql-doc-explorer-search [role="option"]', { hasText: /^Upload$/ })
      .first()
      .click();
    await expect.poll(() => explorer.innerText(), { timeout: 15_000 }).toContain('Where and how to send the bytes of a staged upload');
    expect(await explorer.innerText()).toContain('expiresAt');
  });

  it("renders an item image's signed URL in an <img>", async () => {
    const png = await noisePng(320, 200);
    const item = await server.gql(
      'mutation { createItem(input: { sku: "BR0001", name: "Shelf", price: 20, category: HOME }) { item { id } } }',
      {},
      { token: staff.token },
    );
    const itemId = item.body.data!.createItem.item.id;
    const file = await uploadFile(server, staff.token, { filename: 'shelf.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' }, png);
    const attached = await server.gql(
      'mutation($input: AttachFileInput!) { attachFile(input: $input) { userErrors { message } } }',
      { input: { fileId: file.id, targetId: itemId } },
      { token: staff.token },
    );
    expect(attached.body.data!.attachFile.userErrors).toEqual([]);
    const { body } = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Item { images { nodes { url } } } } }',
      { id: itemId },
      { token: staff.token },
    );
    const url = body.data!.node.images.nodes[0].url as string;

    // A page of the server's origin (GraphiQL's, whose CSP allows same-origin images) shows it without any header.
    await page.goto(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    const size = await page.evaluate(async (src) => {
      const img = document.createElement('img');
      img.id = 'item-image';
      img.style.cssText = 'position:fixed;top:20px;left:20px;z-index:9999;border:4px solid #333';
      img.src = src;
      document.body.append(img);
      await img.decode();
      return { width: img.naturalWidth, height: img.naturalHeight };
    }, url);
    expect(size).toEqual({ width: 320, height: 200 });
    await page.locator('#item-image').screenshot({ path: new URL('files-item-image.png', ARTIFACTS).pathname });
    await page.screenshot({ path: new URL('files-item-image-page.png', ARTIFACTS).pathname });
  });
});
