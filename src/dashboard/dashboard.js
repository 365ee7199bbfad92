// The live operations page. Signs in with the `login` mutation and keeps the tokens in memory only (a reload signs
// out), renews them before they expire, and keeps every panel current through OpsHub's subscriptions over one
// graphql-ws socket. HTTP queries only load a panel's state when a connection (re)starts; no panel is polled.
// Operations the viewer's scopes cannot run are never sent: a panel that needs a missing scope shows a note instead.
(function () {
  'use strict';

  const GRAPHQL_URL = new URL(document.body.dataset.graphqlPath || '/graphql', location.href).toString();
  const WS_URL = GRAPHQL_URL.replace(/^http/, 'ws');
  const MINUTE = 60_000; // ms
  const HOUR = 60 * MINUTE;
  /** An item at or below this stock is low. */
  const LOW_STOCK = 5;
  /** A running-jobs figure the page cannot account for is looked up again after this long. */
  const JOB_LOOKUP_INTERVAL_MS = 2_000;
  const FEED_LENGTH = 12;
  /** Pages (of 100) read at most when loading the last hour's orders and the catalog. */
  const MAX_PAGES = 20;
  /** Reconnect backoff: 0.5 s doubling to 8 s, with jitter. */
  const RETRY_MS = { first: 500, max: 8_000 };
  /** Access tokens are renewed when 80 % of their lifetime has passed (at least 5 s from now). */
  const RENEW_AT = 0.8;
  /** Finished jobs stay listed this long. */
  const FINISHED_JOB_MS = 10 * MINUTE;

  /** What each panel needs; panels without their scopes show a note, and their operations are never sent. */
  const PANELS = {
    kpis: ['analytics:read'],
    chart: ['orders:read'],
    orders: ['orders:read'],
    stock: ['items:read'],
    jobs: [],
    notifications: ['notifications:read'],
  };

  // ---------------------------------------------------------------- operations

  const USER_FIELDS = 'id username fullName role';
  const AUTH_FIELDS = `accessToken refreshToken expiresIn scopes user { ${USER_FIELDS} } userErrors { field message code }`;
  const ORDER_FIELDS = 'id createdAt quantity total status item { id name sku } placedBy { id username }';
  const ITEM_FIELDS = 'id sku name stock';
  const JOB_FIELDS = 'id kind status progress createdAt finishedAt error';
  const NOTIFICATION_FIELDS = 'id kind title body createdAt';
  const STATS_FIELDS = 'at onlineUsers openConnections ordersLastHour revenueLastHour runningJobs';

  const Q = {
    login: `mutation DashboardSignIn($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`,
    refresh: `mutation DashboardRenew($refreshToken: String!) { refreshSession(refreshToken: $refreshToken) { ${AUTH_FIELDS} } }`,
    logout: 'mutation DashboardSignOut($refreshToken: String!) { logout(refreshToken: $refreshToken) }',
    streams:
      'query DashboardStreams { __type(name: "Subscription") { fields { name args { name } type { name ofType { name fields { name } } } } } }',
    stats: `query DashboardStats { dashboard { ${STATS_FIELDS} } }`,
    orders: `query DashboardOrders($after: String) { orders(first: 100, after: $after) { nodes { ${ORDER_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
    items: `query DashboardItems($after: String) { items(first: 100, after: $after) { nodes { ${ITEM_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
    jobs: `query DashboardJobs { jobs(first: 20) { nodes { ${JOB_FIELDS} } } }`,
    notifications: `query DashboardNotifications { notifications(first: 8, unreadOnly: true) { totalCount nodes { ${NOTIFICATION_FIELDS} } } }`,
    startExport: `mutation DashboardExport { startJob(input: { kind: EXPORT_ITEMS, params: {} }) { job { ${JOB_FIELDS} } userErrors { message } } }`,
  };

  /** Subscriptions; `cursor` is set when the server's stream takes `after:` and its events carry a `streamCursor`. */
  const STREAMS = {
    stats: { field: 'dashboardStats', fields: STATS_FIELDS, args: { intervalMs: 'Int' }, cursor: false },
    orders: { field: 'orderPlaced', fields: ORDER_FIELDS, args: {}, cursor: false },
    items: { field: 'itemChanged', fields: ITEM_FIELDS, args: {}, cursor: false },
    notifications: { field: 'notificationReceived', fields: NOTIFICATION_FIELDS, args: {}, cursor: false },
    job: { field: 'jobUpdated', fields: JOB_FIELDS, args: { id: 'ID!' }, cursor: false },
  };

  /** The document of a stream, with `after:` and `streamCursor` only where the server offers them. */
  function streamDocument(stream) {
    const args = Object.assign({}, stream.args, stream.cursor ? { after: 'String' } : {});
    const names = Object.keys(args);
    const declared = names.length ? `(${names.map((name) => `$${name}: ${args[name]}`).join(', ')})` : '';
    const passed = names.length ? `(${names.map((name) => `${name}: $${name}`).join(', ')})` : '';
    const fields = stream.cursor ? `${stream.fields} streamCursor` : stream.fields;
    return `subscription Dashboard_${stream.field}${declared} { ${stream.field}${passed} { ${fields} } }`;
  }

  // ---------------------------------------------------------------- session (memory only)

  const session = { token: null, refreshToken: null, scopes: new Set(), user: null, renewTimer: null };
  const can = (scope) => session.scopes.has(scope);
  const allowed = (panel) => PANELS[panel].every(can);

  class GraphqlError extends Error {
    constructor(errors) {
      super(errors.map((error) => error.message).join('; '));
      this.codes = errors.map((error) => error.extensions && error.extensions.code);
    }
  }

  async function gql(query, variables) {
    const headers = { 'content-type': 'application/json' };
    if (session.token) headers.authorization = `Bearer ${session.token}`;
    const response = await fetch(GRAPHQL_URL, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = await response.json();
    if (body.errors && body.errors.length) throw new GraphqlError(body.errors);
    return body.data;
  }

  function adopt(payload) {
    session.token = payload.accessToken;
    session.refreshToken = payload.refreshToken;
    session.scopes = new Set(payload.scopes || []);
    session.user = payload.user;
    clearTimeout(session.renewTimer);
    const seconds = Math.max(5, (payload.expiresIn || 60) * RENEW_AT);
    session.renewTimer = setTimeout(renew, seconds * 1_000);
  }

  async function signIn(login, password) {
    const data = await gql(Q.login, { input: { login, password } });
    const payload = data.login;
    if (payload.userErrors.length) throw new Error(payload.userErrors[0].message);
    adopt(payload);
    await detectCursors();
    showBoard();
    live.start();
  }

  /** How long to wait before trying a renewal again when the server could not be reached. */
  const RENEW_RETRY_MS = 5_000;
  let renewing = null;

  /**
   * A new token pair from the refresh token; the socket then carries the new access token. One renewal at a time:
   * refresh tokens are single use, and presenting a used one ends the whole session.
   */
  function renew() {
    if (!renewing) renewing = renewOnce().finally(() => (renewing = null));
    return renewing;
  }

  async function renewOnce() {
    const refreshToken = session.refreshToken;
    if (!refreshToken) return;
    clearTimeout(session.renewTimer);
    let payload;
    try {
      payload = (await gql(Q.refresh, { refreshToken })).refreshSession;
    } catch {
      // Unreachable or busy server: the access token is still valid for a while, so try again shortly.
      if (session.refreshToken === refreshToken) session.renewTimer = setTimeout(renew, RENEW_RETRY_MS);
      return;
    }
    if (session.refreshToken !== refreshToken) return; // signed out meanwhile
    if (payload.userErrors.length || !payload.accessToken) {
      signOut('Your session has ended. Sign in again.');
      return;
    }
    adopt(payload);
    live.renewed();
  }

  function signOut(message) {
    const refreshToken = session.refreshToken;
    clearTimeout(session.renewTimer);
    live.stop();
    session.token = null;
    session.refreshToken = null;
    session.scopes = new Set();
    session.user = null;
    if (refreshToken) gql(Q.logout, { refreshToken }).catch(() => {});
    resetState();
    showSignIn(message || '');
    setState('signed-out');
  }

  /**
   * Which streams can resume from a cursor: those whose field takes `after:` and whose event type has a `streamCursor`.
   * Introspection may be off (production); then no stream resumes by cursor and a reconnect reloads panel state.
   */
  async function detectCursors() {
    // A new sign-in starts every stream afresh: another viewer's cursors name streams that are not theirs.
    for (const stream of Object.values(STREAMS)) Object.assign(stream, { cursor: false, lastCursors: new Map() });
    try {
      const data = await gql(Q.streams);
      const fields = (data.__type && data.__type.fields) || [];
      for (const stream of Object.values(STREAMS)) {
        const field = fields.find((candidate) => candidate.name === stream.field);
        const type = field && (field.type.ofType || field.type);
        stream.cursor = Boolean(
          field && field.args.some((arg) => arg.name === 'after') && type && (type.fields || []).some((f) => f.name === 'streamCursor'),
        );
      }
    } catch {
      // Introspection refused: every stream runs without a cursor.
    }
  }

  // ---------------------------------------------------------------- live connection

  /**
   * One graphql-ws client per connection attempt, so every (re)connection subscribes afresh with the cursors seen so
   * far. A renewed token reconnects with it (`renewed`); when the server can take a new token on an open socket,
   * only `renewed` changes.
   */
  const live = {
    client: null,
    generation: 0,
    attempt: 0,
    retryTimer: null,
    /** A 4403 since the last successful connection. */
    refused: false,
    subscriptions: [],
    jobSubscriptions: new Map(),

    /** `quiet`: a planned reconnection (a renewed token), which keeps the connection state shown. */
    start(quiet) {
      this.stop();
      const generation = ++this.generation;
      if (!quiet) setState(this.attempt === 0 && !state.everConnected ? 'connecting' : 'reconnecting');
      const client = graphqlWs.createClient({
        url: WS_URL,
        lazy: false,
        retryAttempts: 0,
        keepAlive: 10_000, // ms between the client's pings
        connectionParams: () => ({ authorization: `Bearer ${session.token}` }),
        onNonLazyError: () => {}, // the `closed` listener decides what happens next
        on: {
          connected: () => generation === this.generation && this.connected(client),
          closed: (event) => generation === this.generation && this.closed(event),
        },
      });
      this.client = client;
    },

    stop() {
      clearTimeout(this.retryTimer);
      this.generation += 1;
      this.subscriptions = [];
      this.jobSubscriptions.clear();
      if (this.client) this.client.dispose();
      this.client = null;
    },

    /** The session has a new access token: reconnect with it (the socket's token is fixed at connection_init). */
    renewed() {
      if (session.token) this.start(this.client !== null && state.connected);
    },

    connected(client) {
      this.attempt = 0;
      this.refused = false;
      state.connected = true;
      state.everConnected = true;
      setState('connected');
      subscribeAll(client);
      const generation = this.generation;
      // A load cut short because this connection dropped is repeated by the next one; only a live one reports.
      loadSnapshot((error) => generation === this.generation && report(error));
    },

    closed(event) {
      state.connected = false;
      this.subscriptions = [];
      this.jobSubscriptions.clear();
      this.client = null;
      if (!session.token) return;
      // 4403: the token was refused (expired, revoked). Renew and reconnect once; refused again, sign out.
      if (event && event.code === 4403) {
        setState('reconnecting');
        if (this.refused) return signOut('Your session has ended. Sign in again.');
        this.refused = true;
        renew();
        return;
      }
      setState('reconnecting');
      const delay = Math.min(RETRY_MS.max, RETRY_MS.first * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.retryTimer = setTimeout(() => session.token && this.start(), delay);
    },

    subscribe(stream, variables, onEvent) {
      const client = this.client;
      if (!client) return () => {};
      const vars = Object.assign({}, variables);
      // One resume point per stream and arguments: each job's states are a stream of their own.
      const key = JSON.stringify(variables);
      const cursors = (stream.lastCursors = stream.lastCursors || new Map());
      if (stream.cursor && cursors.has(key)) vars.after = cursors.get(key);
      return client.subscribe(
        { query: streamDocument(stream), variables: vars },
        {
          next: (result) => {
            if (result.errors && result.errors.length) return report(new GraphqlError(result.errors));
            const event = result.data && result.data[stream.field];
            if (!event) return;
            if (stream.cursor && event.streamCursor) cursors.set(key, event.streamCursor);
            onEvent(event);
          },
          error: (error) => {
            // A socket that closes ends its subscriptions with a CloseEvent; `closed` handles that.
            if (error && typeof error.code === 'number') return;
            report(Array.isArray(error) ? new GraphqlError(error) : error);
          },
          complete: () => {},
        },
      );
    },
  };

  function subscribeAll(client) {
    if (live.client !== client) return;
    if (allowed('kpis')) live.subscriptions.push(live.subscribe(STREAMS.stats, { intervalMs: 1_000 }, onStats));
    if (allowed('orders')) live.subscriptions.push(live.subscribe(STREAMS.orders, {}, onOrder));
    if (allowed('stock')) live.subscriptions.push(live.subscribe(STREAMS.items, {}, onItem));
    if (allowed('notifications')) live.subscriptions.push(live.subscribe(STREAMS.notifications, {}, onNotification));
    for (const job of state.jobs.values()) if (!isFinished(job)) watchJob(job.id);
  }

  function watchJob(id) {
    if (!live.client || live.jobSubscriptions.has(id)) return;
    const dispose = live.subscribe(STREAMS.job, { id }, (job) => {
      onJob(job);
      if (isFinished(job)) live.jobSubscriptions.delete(id);
    });
    live.jobSubscriptions.set(id, dispose);
  }

  // ---------------------------------------------------------------- state

  const state = {
    everConnected: false,
    connected: false,
    stats: null,
    orders: new Map(),
    items: new Map(),
    jobs: new Map(),
    unread: new Map(),
    unreadTotal: 0,
    /** Notifications received while the unread list loads; counted once the list shows whether it holds them. */
    notificationsInFlight: null,
    jobLookup: null,
    /** The running-jobs figure the job list was last read for. */
    jobsLookedUpFor: null,
    jobsLookedUpAt: 0,
  };

  function resetState() {
    state.everConnected = false;
    state.connected = false;
    state.stats = null;
    state.orders.clear();
    state.items.clear();
    state.jobs.clear();
    state.unread.clear();
    state.unreadTotal = 0;
    state.notificationsInFlight = null;
    state.jobsLookedUpFor = null;
    chart.reset();
  }

  /** Every panel's state, loaded after the subscriptions are open, so nothing that happens meanwhile is missed. */
  async function loadSnapshot(onError) {
    const tasks = [loadJobs()];
    if (allowed('kpis')) tasks.push(gql(Q.stats).then((data) => onStats(data.dashboard)));
    if (allowed('orders')) tasks.push(loadOrders());
    if (allowed('stock')) tasks.push(loadItems());
    if (allowed('notifications')) tasks.push(loadNotifications());
    const results = await Promise.allSettled(tasks);
    for (const result of results) if (result.status === 'rejected') onError(result.reason);
  }

  async function loadOrders() {
    const since = Date.now() - HOUR;
    let after = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const data = await gql(Q.orders, { after });
      const { nodes, pageInfo } = data.orders;
      for (const order of nodes) if (Date.parse(order.createdAt) >= since) state.orders.set(order.id, order);
      const oldest = nodes[nodes.length - 1];
      if (!pageInfo.hasNextPage || !oldest || Date.parse(oldest.createdAt) < since) break;
      after = pageInfo.endCursor;
    }
    renderOrders();
  }

  async function loadItems() {
    let after = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const data = await gql(Q.items, { after });
      for (const item of data.items.nodes) state.items.set(item.id, item);
      if (!data.items.pageInfo.hasNextPage) break;
      after = data.items.pageInfo.endCursor;
    }
    renderStock();
  }

  async function loadNotifications() {
    state.notificationsInFlight = new Map();
    let data;
    try {
      data = await gql(Q.notifications);
    } catch (error) {
      // Without the list, what arrived meanwhile counts as new.
      const arrived = state.notificationsInFlight;
      state.notificationsInFlight = null;
      for (const notification of arrived.values()) onNotification(notification);
      throw error;
    }
    const { totalCount, nodes } = data.notifications;
    state.unread.clear();
    for (const notification of nodes) state.unread.set(notification.id, notification);
    let total = totalCount;
    // The list is newest first: an event received meanwhile that it does not hold was stored after it was read.
    for (const [id, notification] of state.notificationsInFlight) {
      if (!state.unread.has(id)) {
        state.unread.set(id, notification);
        total += 1;
      }
    }
    state.notificationsInFlight = null;
    state.unreadTotal = total;
    renderNotifications();
  }

  async function loadJobs() {
    const data = await gql(Q.jobs);
    for (const job of data.jobs.nodes) mergeJob(job);
    for (const job of state.jobs.values()) if (!isFinished(job)) watchJob(job.id);
    renderJobs();
  }

  /**
   * jobUpdated follows one job by id, and no stream announces new jobs: when the running-jobs figure of the stats
   * stream counts more jobs than the page follows, the job list is read once to learn their ids.
   */
  function lookUpJobsIfNew(runningJobs) {
    const followed = [...state.jobs.values()].filter((job) => job.status === 'RUNNING').length;
    if (runningJobs <= followed) {
      state.jobsLookedUpFor = null;
      return;
    }
    // Once per figure and at most every 2 s: jobs the viewer may not see (others', without jobs:read) would otherwise
    // mean a read per tick. The same figure may stand for other jobs later (one finished, another started within a
    // tick), so a figure is looked up again after that time.
    const recent = state.jobsLookedUpFor === runningJobs && Date.now() - state.jobsLookedUpAt < JOB_LOOKUP_INTERVAL_MS;
    if (state.jobLookup || recent) return;
    state.jobsLookedUpFor = runningJobs;
    state.jobsLookedUpAt = Date.now();
    state.jobLookup = loadJobs()
      .catch(report)
      .finally(() => (state.jobLookup = null));
  }

  const isFinished = (job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status);

  function mergeJob(job) {
    state.jobs.set(job.id, Object.assign({}, state.jobs.get(job.id), job));
  }

  // ---------------------------------------------------------------- events

  function onStats(stats) {
    state.stats = stats;
    renderStats();
    lookUpJobsIfNew(stats.runningJobs);
  }

  function onOrder(order) {
    const isNew = !state.orders.has(order.id);
    state.orders.set(order.id, order);
    renderOrders(isNew ? order.id : null);
  }

  function onItem(item) {
    state.items.set(item.id, item);
    renderStock();
  }

  function onNotification(notification) {
    if (state.notificationsInFlight) {
      state.notificationsInFlight.set(notification.id, notification);
      return;
    }
    if (state.unread.has(notification.id)) return;
    state.unread.set(notification.id, notification);
    state.unreadTotal += 1;
    renderNotifications();
  }

  function onJob(job) {
    // A followed job that ends lowers the figure the next job list read was made for.
    if (isFinished(job)) state.jobsLookedUpFor = null;
    mergeJob(job);
    renderJobs();
  }

  async function startExport() {
    const button = $('start-export');
    button.disabled = true;
    try {
      const data = await gql(Q.startExport);
      const payload = data.startJob;
      if (payload.userErrors.length) throw new Error(payload.userErrors[0].message);
      mergeJob(payload.job);
      watchJob(payload.job.id);
      renderJobs();
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- rendering

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat('en');
  const money = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const clock = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const hourMinute = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setState(name) {
    const box = $('state');
    box.dataset.state = name;
    document.body.dataset.connection = name;
    box.querySelector('span').textContent = {
      connecting: 'connecting…',
      connected: 'connected',
      reconnecting: 'reconnecting…',
      'signed-out': 'signed out',
    }[name];
  }

  let toastTimer = null;
  function report(error) {
    const box = $('toast') || document.body.appendChild(Object.assign(el('div', 'toast'), { id: 'toast' }));
    box.textContent = error && error.message ? error.message : String(error);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (box.hidden = true), 6_000);
  }

  function panel(name) {
    return document.querySelector(`[data-panel="${name}"]`);
  }

  function renderStats() {
    const stats = state.stats;
    if (!stats) return;
    $('kpi-orders').textContent = number.format(stats.ordersLastHour);
    $('kpi-revenue').textContent = money.format(stats.revenueLastHour);
    $('kpi-online').textContent = number.format(stats.onlineUsers);
    $('kpi-jobs').textContent = number.format(stats.runningJobs);
  }

  function setEmpty(name, empty) {
    panel(name).classList.toggle('is-empty', empty);
  }

  function renderOrders(freshId) {
    const list = $('order-feed');
    const sorted = [...state.orders.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    const newest = sorted.slice(0, FEED_LENGTH);
    // A page left open for days keeps the last hour (the chart) and the feed, nothing older.
    const since = Date.now() - HOUR;
    for (const order of sorted.slice(FEED_LENGTH)) if (Date.parse(order.createdAt) < since) state.orders.delete(order.id);
    list.replaceChildren(
      ...newest.map((order) => {
        const row = el('li', order.id === freshId ? 'fresh' : '');
        row.dataset.orderId = order.id;
        row.append(
          el('time', '', clock.format(new Date(order.createdAt))),
          el('span', 'what', `${order.quantity} × ${order.item ? order.item.name : 'item'}`),
          el('span', 'who', order.placedBy ? order.placedBy.username : ''),
          el('b', 'amount', money.format(order.total)),
        );
        return row;
      }),
    );
    setEmpty('orders', newest.length === 0);
    chart.update();
  }

  function renderStock() {
    const low = [...state.items.values()]
      .filter((item) => item.stock <= LOW_STOCK)
      .sort((a, b) => a.stock - b.stock || a.name.localeCompare(b.name));
    $('stock-threshold').textContent = `${LOW_STOCK} or fewer`;
    $('stock-list').replaceChildren(
      ...low.slice(0, 12).map((item) => {
        const row = el('li', item.stock === 0 ? 'out' : '');
        row.dataset.sku = item.sku;
        row.append(
          el('span', 'sku', item.sku),
          el('span', 'what', item.name),
          el('b', 'count', item.stock === 0 ? 'out' : String(item.stock)),
        );
        return row;
      }),
    );
    if (low.length > 12) $('stock-list').append(el('li', 'more', `and ${low.length - 12} more`));
    setEmpty('stock', low.length === 0);
  }

  function renderJobs() {
    const now = Date.now();
    for (const job of state.jobs.values()) {
      if (isFinished(job) && now - Date.parse(job.finishedAt || job.createdAt) >= FINISHED_JOB_MS) state.jobs.delete(job.id);
    }
    const shown = [...state.jobs.values()]
      .filter((job) => !isFinished(job) || now - Date.parse(job.finishedAt || job.createdAt) < FINISHED_JOB_MS)
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
      .slice(0, 8);
    $('job-list').replaceChildren(
      ...shown.map((job) => {
        const row = el('li', `job ${job.status.toLowerCase()}`);
        row.dataset.jobId = job.id;
        row.dataset.status = job.status;
        row.dataset.kind = job.kind;
        row.dataset.progress = String(job.progress);
        const bar = el('progress');
        bar.max = 100;
        // Some kinds report no steps (a clean-up ends at 0 %): a completed job's bar is full whatever it reported.
        bar.value = job.status === 'COMPLETED' ? 100 : job.progress;
        bar.setAttribute('aria-label', `${job.kind} progress`);
        row.append(
          el('span', 'what', job.kind.replace(/_/g, ' ').toLowerCase()),
          bar,
          el('b', 'count', `${job.status === 'COMPLETED' ? 100 : job.progress} %`),
          el('span', 'status', job.status.toLowerCase()),
        );
        return row;
      }),
    );
    setEmpty('jobs', shown.length === 0);
  }

  function renderNotifications() {
    $('unread-count').textContent = number.format(state.unreadTotal);
    const newest = [...state.unread.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).slice(0, 6);
    $('notification-list').replaceChildren(
      ...newest.map((notification) => {
        const row = el('li', `notification ${notification.kind.toLowerCase()}`);
        row.append(el('b', 'what', notification.title), el('span', 'body', notification.body));
        return row;
      }),
    );
    setEmpty('notifications', state.unreadTotal === 0);
  }

  // ---------------------------------------------------------------- chart (uPlot): orders and revenue per minute

  const chart = {
    plot: null,
    observer: null,
    minuteTimer: null,

    /** 60 one-minute buckets ending with the current minute: [times (s), orders, revenue]. */
    series() {
      const end = Math.floor(Date.now() / MINUTE) * MINUTE;
      const start = end - 59 * MINUTE;
      const times = [];
      const counts = new Array(60).fill(0);
      const revenue = new Array(60).fill(0);
      for (let i = 0; i < 60; i += 1) times.push((start + i * MINUTE) / 1_000);
      for (const order of state.orders.values()) {
        const index = Math.floor((Date.parse(order.createdAt) - start) / MINUTE);
        if (index < 0 || index > 59) continue;
        counts[index] += 1;
        if (order.status !== 'CANCELLED') revenue[index] = Math.round((revenue[index] + order.total) * 100) / 100;
      }
      return [times, counts, revenue];
    },

    create() {
      const box = $('chart');
      const width = Math.max(280, box.clientWidth);
      const showRevenue = can('analytics:read');
      const options = {
        width,
        height: this.height(),
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          orders: { range: (_u, _min, max) => [0, Math.max(4, max * 1.2)] },
          revenue: { range: (_u, _min, max) => [0, Math.max(10, max * 1.2)] },
        },
        axes: [
          {
            stroke: '#8a94a6',
            grid: { stroke: '#232a36' },
            ticks: { stroke: '#232a36' },
            values: (_u, splits) => splits.map((seconds) => hourMinute.format(new Date(seconds * 1_000))),
          },
          {
            scale: 'orders',
            stroke: '#8a94a6',
            grid: { stroke: '#232a36' },
            ticks: { show: false },
            size: 40,
            incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000],
          },
          { scale: 'revenue', side: 1, stroke: '#8a94a6', grid: { show: false }, ticks: { show: false }, show: showRevenue, size: 60 },
        ],
        series: [
          {},
          {
            label: 'orders',
            scale: 'orders',
            stroke: '#4cc2ff',
            fill: 'rgba(76, 194, 255, 0.35)',
            width: 1,
            paths: uPlot.paths.bars({ size: [0.7, 40] }),
            points: { show: false },
          },
          { label: 'revenue', scale: 'revenue', stroke: '#ffb454', width: 2, show: showRevenue, points: { show: false } },
        ],
      };
      this.plot = new uPlot(options, this.series(), box);
      this.observer = new ResizeObserver(
        () => this.plot && this.plot.setSize({ width: Math.max(280, box.clientWidth), height: this.height() }),
      );
      this.observer.observe(box);
      // The buckets move on at each minute even without a new order.
      this.minuteTimer = setInterval(() => this.update(), 15_000);
    },

    height() {
      return window.innerWidth < 700 ? 180 : Math.max(200, Math.min(380, Math.round(window.innerHeight * 0.32)));
    },

    update() {
      if (!allowed('chart')) return;
      if (!this.plot) this.create();
      const data = this.series();
      this.plot.setData(data);
      const orders = data[1].reduce((sum, n) => sum + n, 0);
      const revenue = data[2].reduce((sum, n) => sum + n, 0);
      const box = $('chart');
      box.dataset.orders = String(orders);
      box.dataset.lastMinuteOrders = String(data[1][59]);
      const legend = [`${number.format(orders)} orders in the last hour`, `${number.format(data[1][59])} this minute`];
      if (can('analytics:read')) legend.splice(1, 0, `${money.format(revenue)} revenue`);
      $('chart-legend').textContent = legend.join(' · ');
    },

    reset() {
      clearInterval(this.minuteTimer);
      if (this.observer) this.observer.disconnect();
      if (this.plot) this.plot.destroy();
      this.plot = null;
    },
  };

  // ---------------------------------------------------------------- screens

  function showSignIn(message) {
    $('board').hidden = true;
    $('sign-in').hidden = false;
    $('who').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in-error').textContent = message;
    const form = $('sign-in-form');
    form.elements.password.value = '';
  }

  function showBoard() {
    $('sign-in').hidden = true;
    $('board').hidden = false;
    $('who').hidden = false;
    $('sign-out').hidden = false;
    $('who').textContent = `${session.user.username} · ${session.user.role.toLowerCase()}`;
    for (const name of Object.keys(PANELS)) {
      const box = panel(name);
      const missing = PANELS[name].filter((scope) => !can(scope));
      box.classList.toggle('is-locked', missing.length > 0);
      const old = box.querySelector('.note');
      if (old) old.remove();
      if (missing.length > 0) {
        const note = el(
          'p',
          'note',
          `Staff only: this panel needs ${missing.join(' and ')}, which your account (${session.user.role.toLowerCase()}) does not have.`,
        );
        box.append(note);
      }
    }
    $('start-export').hidden = !(can('jobs:write') && can('items:read'));
    renderOrders();
    renderStock();
    renderJobs();
    renderNotifications();
  }

  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector('button');
    button.disabled = true;
    $('sign-in-error').textContent = '';
    signIn(form.elements.login.value.trim(), form.elements.password.value)
      .catch((error) => ($('sign-in-error').textContent = error.message))
      .finally(() => (button.disabled = false));
  });
  $('sign-out').addEventListener('click', () => signOut(''));
  $('start-export').addEventListener('click', startExport);
  setInterval(renderJobs, MINUTE); // finished jobs leave the list after a while
  setState('signed-out');
})();
