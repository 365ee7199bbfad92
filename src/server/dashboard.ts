/**
 * The live operations page at GET /dashboard: a sign-in form, then figures, a chart of the last hour, the order feed,
 * low stock, running jobs, online users and unread notifications, all kept current by OpsHub's own subscriptions over
 * graphql-ws. Every asset is a file from this repository or node_modules (uPlot for the chart, graphql-ws's browser
 * build for the socket): nothing is fetched from the internet, and the page's policy allows nothing else.
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const modules = (file: string) => fileURLToPath(new URL(`../../node_modules/${file}`, import.meta.url));
const own = (file: string) => fileURLToPath(new URL(`../dashboard/${file}`, import.meta.url));

export const DASHBOARD_PATH = '/dashboard';
export const DASHBOARD_ASSETS_PREFIX = '/dashboard/assets/';

/**
 * Stricter than GraphiQL's: the page has no inline script or style and no <style> element (uPlot and the page set
 * styles through the CSSOM, which `style-src` does not govern), so styles need no 'unsafe-inline'. `connect-src
 * 'self'` covers fetch to /graphql and the same-origin ws:// or wss:// socket (CSP 3); nothing loads images or fonts.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const assets: Record<string, { path: string; type: string }> = {
  'uplot.js': { path: modules('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uplot.css': { path: modules('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'graphql-ws.js': { path: modules('graphql-ws/umd/graphql-ws.min.js'), type: 'text/javascript' },
  'dashboard.js': { path: own('dashboard.js'), type: 'text/javascript' },
  'dashboard.css': { path: own('dashboard.css'), type: 'text/css' },
};

export function registerDashboard(fastify: FastifyInstance, options: { graphqlPath: string }): void {
  const page = dashboardPage(options.graphqlPath);
  fastify.get(DASHBOARD_PATH, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', DASHBOARD_CSP).send(page),
  );
  fastify.get(`${DASHBOARD_ASSETS_PREFIX}:name`, async (request, reply) => {
    const asset = assets[(request.params as { name: string }).name];
    if (!asset) return reply.code(404).send({ error: 'Not found' });
    return reply.type(asset.type).header('cache-control', 'no-cache').send(createReadStream(asset.path));
  });
}

function dashboardPage(graphqlPath: string): string {
  const asset = (name: string) => `${DASHBOARD_ASSETS_PREFIX}${name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>OpsHub live</title>
<link rel="stylesheet" href="${asset('uplot.css')}">
<link rel="stylesheet" href="${asset('dashboard.css')}">
</head>
<body data-graphql-path="${graphqlPath}">
<header class="bar">
  <h1>OpsHub <span>live</span></h1>
  <div class="who" id="who" hidden></div>
  <div class="state" id="state" data-state="signed-out" role="status" aria-live="polite"><i></i><span>signed out</span></div>
  <button type="button" id="sign-out" class="link" hidden>Sign out</button>
</header>
<main>
  <section id="sign-in" class="sign-in">
    <form id="sign-in-form" class="card" autocomplete="on">
      <h2>Sign in</h2>
      <label>Username or e-mail <input name="login" autocomplete="username" required></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">Sign in</button>
      <p class="error" id="sign-in-error" role="alert"></p>
    </form>
  </section>
  <section id="board" class="board" hidden>
    <div class="kpis" id="kpis" data-panel="kpis">
      <div class="kpi"><b id="kpi-orders">–</b><span>orders, last hour</span></div>
      <div class="kpi"><b id="kpi-revenue">–</b><span>revenue, last hour</span></div>
      <div class="kpi"><b id="kpi-online">–</b><span>users online</span></div>
      <div class="kpi"><b id="kpi-jobs">–</b><span>jobs running</span></div>
    </div>
    <article class="card" data-panel="chart">
      <h2>Orders and revenue per minute <small>last hour</small></h2>
      <div class="panel-body"><div id="chart" class="chart"></div><p class="legend" id="chart-legend"></p></div>
    </article>
    <article class="card" data-panel="orders">
      <h2>Orders <small>live</small></h2>
      <div class="panel-body"><ol id="order-feed" class="feed"></ol><p class="empty">No orders yet.</p></div>
    </article>
    <article class="card" data-panel="stock">
      <h2>Low stock <small id="stock-threshold"></small></h2>
      <div class="panel-body"><ul id="stock-list" class="rows"></ul><p class="empty">Nothing is running low.</p></div>
    </article>
    <article class="card" data-panel="jobs">
      <h2>Jobs <button type="button" id="start-export" class="small" hidden>Export catalog</button></h2>
      <div class="panel-body"><ul id="job-list" class="rows"></ul><p class="empty">No jobs running.</p></div>
    </article>
    <article class="card" data-panel="notifications">
      <h2>Notifications <span class="badge" id="unread-count">0</span></h2>
      <div class="panel-body"><ul id="notification-list" class="rows"></ul><p class="empty">Nothing unread.</p></div>
    </article>
  </section>
</main>
<script src="${asset('uplot.js')}"></script>
<script src="${asset('graphql-ws.js')}"></script>
<script src="${asset('dashboard.js')}"></script>
</body>
</html>`;
}
