/**
 * `npm run bench [-- --quick]`: OpsHub against peer GraphQL servers on the same schema, context builder, resolvers,
 * SQL and data, as ratios measured in one run. See bench/README.md for what is measured and how.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import { hashPassword } from '../src/auth/passwords.js';
import { toGlobalId } from '../src/schema/shared/global-id.js';
import { cpuMeter, type CpuMeter } from './lib/cpu.js';
import { BENCH_DATABASE, prepareDatabase, type BenchDatabase } from './lib/database.js';
import { BENCH_ADMIN, parts, seed } from './lib/dataset.js';
import { BENCH_METRICS_TOKEN, runFanout } from './lib/fanout.js';
import { runHttp, verifyReference, type Reference, type Target } from './lib/http-bench.js';
import { parseOptions } from './lib/options.js';
import { killAll, RESULTS_DIR, spawnCandidate, waitReady, type Spawned } from './lib/processes.js';
import {
  environmentLabel,
  renderMarkdown,
  roundRatios,
  summarise,
  type BenchReport,
  type CandidateRow,
  type Environment,
  type ScaleOut,
  type WorkloadReport,
} from './lib/report.js';
import { startVerifier } from './lib/verify.js';
import { startOtlpSink, type OtlpSink } from './lib/otlp-sink.js';
import { missingFields, postgraphileQueries, workloads, type Fixtures, type OwnQuery, type Workload } from './lib/workloads.js';

interface CandidateSpec {
  id: string;
  title: string;
  entry: string;
  /** Added to the shared environment. */
  env?: Record<string, string>;
  /**
   * Its own schema: it answers only these workloads, with its own queries, checked against OpsHub's rows and values
   * rather than byte for byte (lib/workloads.ts, OwnQuery).
   */
  own?: Record<string, OwnQuery>;
  /** Runs on PostgreSQL only; on PGlite its rows say so. */
  postgresOnly?: boolean;
}

const CANDIDATES: CandidateSpec[] = [
  { id: 'opshub', title: 'OpsHub (Fastify + Apollo, production)', entry: 'src/main.ts' },
  // The build (`npm run build`, made first when stale) with tracing on: every operation, statement and job a span,
  // exported over OTLP/HTTP to a sink in this process (its URL is filled in when the sink listens).
  { id: 'opshub-traced', title: 'OpsHub built (dist/), tracing on (OTLP/HTTP export)', entry: 'dist/main.js', env: { TRACING: 'true' } },
  { id: 'graphql-js', title: 'graphql-js execute on node:http', entry: 'bench/candidates/graphql-js.ts' },
  { id: 'yoga', title: 'GraphQL Yoga', entry: 'bench/candidates/yoga.ts' },
  { id: 'mercurius', title: 'Mercurius (jit: 1)', entry: 'bench/candidates/mercurius.ts' },
  { id: 'lean', title: 'lean: hand-written graphql-js + SQL on node:http', entry: 'bench/candidates/lean.ts' },
  {
    id: 'postgraphile',
    title: 'PostGraphile 5 (own schema and queries)',
    entry: 'bench/candidates/postgraphile.ts',
    own: postgraphileQueries,
    postgresOnly: true,
  },
  { id: 'ceiling', title: 'node:http fixed body (ceiling)', entry: 'bench/candidates/ceiling.ts' },
];

/** Same secret for every process, so a token from the verifier is valid everywhere. Bench-only, never deployed. */
const JWT_SECRET = 'opshub-bench-secret-0123456789-abcdefghij';

const startedAt = new Date();
const clock = performance.now();
const seconds = (since: number) => (performance.now() - since) / 1_000;
const progress = (message: string) => process.stderr.write(`[bench ${seconds(clock).toFixed(1).padStart(5)} s] ${message}\n`);

const options = parseOptions(process.argv.slice(2));
const wanted = (id: string) => options.only === null || options.only.includes(id);
/** `--workers N`: OpsHub's build as one process (the reference, `opshub`) and as N cluster workers. */
const scaleOut = options.workers > 1;
const WORKERS_ID = 'opshub-workers';

let database: BenchDatabase | null = null;
let meter: CpuMeter | null = null;
const sinks: OtlpSink[] = [];
const running: Spawned[] = [];
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.allSettled(running.map((candidate) => candidate.stop()));
    await Promise.allSettled(sinks.map((sink) => sink.close()));
    killAll();
    await meter?.close().catch(() => {});
    await database?.drop().catch(() => {});
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping every candidate`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const timings: Record<string, number> = {};
  if (scaleOut && !process.env.DATABASE_URL) throw new Error('--workers needs PostgreSQL (DATABASE_URL): the cluster shares one database');
  database = await prepareDatabase(process.env.DATABASE_URL);
  if (database.databaseUrl) {
    const url = new URL(database.databaseUrl);
    const monitor = postgres(database.databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'opshub-bench-monitor' } });
    meter = cpuMeter(monitor, Number(url.port || 5432), BENCH_DATABASE);
  } else meter = cpuMeter(null, 0, BENCH_DATABASE);
  const environment: Environment = {
    machine: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    database: database.description,
    databaseKind: database.kind,
    loadAverageAtStart: os.loadavg(),
  };
  progress(`on ${environmentLabel(environment)}`);
  mkdirSync(`${RESULTS_DIR}logs`, { recursive: true });

  // 1. Seed, then verify with the real app (DEBUG_SQL) on the same database.
  let phase = performance.now();
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET,
    SEED_DEMO_DATA: 'false',
    SHUTDOWN_GRACE_MS: '2000',
    ACCESS_TOKEN_TTL_MINUTES: '1440',
    // The per-viewer request budget would stop a load test within seconds; it stays on, just out of reach.
    RATE_LIMIT_ANONYMOUS: '100000000',
    RATE_LIMIT_USER: '100000000',
    RATE_LIMIT_MODERATOR: '100000000',
    RATE_LIMIT_ADMIN: '100000000',
    // Every fan-out subscriber signs in as the same bench user; the per-user connection cap would stop it at 10.
    WS_MAX_CONNECTIONS_PER_USER: '100000',
    // /metrics in production needs a token: the fan-out reads the server's publish-to-last-write there.
    METRICS_TOKEN: BENCH_METRICS_TOKEN,
    // Every fan-out socket opens from 127.0.0.1 and is anonymous until its connection_init: the per-address and
    // process-wide caps on such sockets would refuse all but the first 20 (1008) while they connect at once.
    WS_MAX_ANONYMOUS_PER_ADDRESS: '100000',
    WS_MAX_ANONYMOUS_CONNECTIONS: '100000',
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : { DATA_DIR: database.dataDir! }),
  };
  const handle = await openDatabase({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
  await handle.migrate();
  const specs = scaleOut
    ? scaleOutCandidates(options.workers)
    : CANDIDATES.filter((spec) => spec.id === 'opshub' || options.candidates === null || options.candidates.includes(spec.id));
  if (options.variant && !scaleOut) {
    const settings = Object.entries(options.variant).map(([name, value]) => `${name}=${value}`);
    specs.splice(1, 0, { id: 'opshub-variant', title: `OpsHub with ${settings.join(' ')}`, entry: 'src/main.ts', env: options.variant });
  }
  // Candidates that cannot run on this database: their rows say why.
  const skipped = new Map(
    specs.filter((spec) => spec.postgresOnly && database!.kind !== 'postgres').map((spec) => [spec.id, 'PostgreSQL only, skipped on PGlite']),
  );
  if (specs.some((spec) => spec.entry.startsWith('dist/'))) {
    execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // The collector is named to the traced candidate alone: OTEL_EXPORTER_OTLP_ENDPOINT turns OpsHub's tracing on by
  // default, and every other OpsHub candidate is measured as production runs without it.
  const collector: Record<string, string> = {};
  if (specs.some((spec) => spec.id === 'opshub-traced')) {
    const sink = await startOtlpSink();
    sinks.push(sink);
    collector.OTEL_EXPORTER_OTLP_ENDPOINT = sink.url;
  }
  let startedCandidatesAt = performance.now();
  let starting: Promise<void> | null = null;
  const startCandidates = () => {
    startedCandidatesAt = performance.now();
    starting = (async () => {
      for (const spec of specs.filter((candidate) => !skipped.has(candidate.id))) {
        const nodeArgs = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}profiles/${spec.id}`] : [];
        const traced = spec.id === 'opshub-traced' ? collector : {};
        const env = { ...baseEnv, ...spec.env, ...traced, ...(await database!.envFor(spec.id)) };
        running.push(await spawnCandidate({ id: spec.id, entry: spec.entry, env, nodeArgs }));
      }
    })();
  };
  // On PostgreSQL the candidates start while the data is seeded: they only need the migrated schema to boot.
  if (database.kind === 'postgres') startCandidates();
  const seeded = await seed(handle.db, parts({ passwordHash: () => hashPassword(BENCH_ADMIN.password) }));
  timings.seeding = seconds(phase);
  progress(`seeded ${seeded.statuses.map((part) => (part.ok ? `${part.rows} ${part.name}` : `${part.name}: ${part.reason}`)).join(', ')}`);
  const dataset = seeded.statuses.map((part) =>
    part.ok ? { name: part.name, rows: part.rows, status: 'seeded' } : { name: part.name, status: part.reason },
  );
  const seededParts = new Set(seeded.statuses.filter((part) => part.ok).map((part) => part.name));
  const itemIds = seeded.ids.items;
  if (!itemIds || itemIds.length < 4) throw new Error('the item catalog could not be seeded; nothing to measure');
  // Item 1 is ELECTRONICS (read by node(id)); item 3 is HOME, outside the items filter, and carries fan-out events.
  const fixtures: Fixtures = { nodeId: toGlobalId('Item', itemIds[1]!) };
  const fanoutItemId = toGlobalId('Item', itemIds[3]!);

  phase = performance.now();
  const verifier = await startVerifier(handle, baseEnv);
  let authorization: string | null = null;
  let authProblem: string | null = null;
  try {
    authorization = await verifier.login();
  } catch (error) {
    authProblem = error instanceof Error ? error.message : String(error);
    progress(authProblem);
  }
  const context = await verifier.statements({ query: '{ __typename }' }, authorization);
  const contextStatements = context.statements ?? 0;

  const reports: WorkloadReport[] = [];
  const expectedData = new Map<string, unknown>();
  for (const workload of workloads.filter((candidate) => wanted(candidate.id))) {
    const report: WorkloadReport = { id: workload.id, title: workload.title, status: 'measured', rows: [] };
    reports.push(report);
    const missing = missingFields(verifier.schema, workload.fields);
    const absentData = workload.data.filter((part) => !seededParts.has(part));
    if (missing.length > 0 || absentData.length > 0) {
      report.status = 'not available yet';
      report.reason = [
        missing.length ? `schema lacks ${missing.join(', ')}` : '',
        absentData.length
          ? `data set lacks ${absentData.map((part) => dataset.find((entry) => entry.name === part)?.status ?? part).join('; ')}`
          : '',
      ]
        .filter(Boolean)
        .join('; ');
      continue;
    }
    const { statements, body } = await verifier.statements(workload.request(fixtures), authorization);
    const wrong = body.errors?.length ? `GraphQL error: ${body.errors[0]!.message}` : body.data ? workload.check(body.data) : 'no data';
    if (wrong) {
      report.status = 'failed';
      report.reason = `verification request: ${wrong}${authProblem ? ` (${authProblem})` : ''}`;
      continue;
    }
    expectedData.set(workload.id, body.data);
    if (statements !== null) {
      const ok = statements - contextStatements <= workload.sqlBudget;
      report.sql = { statements, contextStatements, budget: workload.sqlBudget, ok };
      if (!ok) {
        report.status = 'failed';
        report.reason = `${statements - contextStatements} SQL statements per request beyond the context's ${contextStatements}, budget ${workload.sqlBudget}`;
      }
    }
  }
  await verifier.close();
  timings.verification = seconds(phase);

  // 2. Every candidate is its own process on its own port; on PGlite each opens its copy of the seeded template.
  if (database.kind === 'pglite') startCandidates();
  await starting;
  await Promise.all(running.map((candidate) => waitReady(candidate)));
  timings['start-up'] = seconds(startedCandidatesAt);
  progress(`candidates up: ${running.map((candidate) => `${candidate.id} :${candidate.port}`).join(', ')}`);
  const byId = new Map(running.map((candidate) => [candidate.id, candidate]));
  const title = (id: string) => specs.find((spec) => spec.id === id)!.title;
  const targetOf = (candidate: Spawned): Target => ({ url: candidate.url, headers: authorization ? { authorization } : {} });

  // 3. Subscription fan-out: OpsHub, and plain graphql-ws + graphql-js as the baseline (with --workers: OpsHub as
  // one process and as the cluster, whose primary spreads the subscribers' connections over its workers).
  const fanout: BenchReport['fanout'] = [];
  let fanoutStatus: string | undefined;
  if (wanted('fanout')) {
    phase = performance.now();
    const missing = missingFields(verifier.schema, ['Subscription.itemChanged', 'Mutation.updateItem']);
    const servers = (scaleOut ? ['opshub', WORKERS_ID] : ['opshub', 'graphql-js'])
      .map((id) => byId.get(id))
      .filter((server): server is Spawned => server !== undefined);
    if (missing.length > 0) fanoutStatus = `not available yet: schema lacks ${missing.join(', ')}`;
    else {
      const limit = openFileLimit();
      for (const n of options.fanout.filter((n) => limit !== null && n + 500 > limit)) {
        fanout.push({ ...emptyFanout(n), title: 'all', failures: [`needs ulimit -n above ${n + 500}; it is ${limit}`] });
      }
      for (const n of options.fanout.filter((n) => limit === null || n + 500 <= limit)) {
        for (const server of servers) {
          progress(`fan-out to ${n} on ${server.id}`);
          // With OpsHub's row, the floor's: the bytes of one of its `next` messages to as many plain sockets, each
          // event taking turns with one of OpsHub's.
          const withFloor = server.id === 'opshub';
          if (withFloor) progress(`  with the floor (plain ws broadcast to ${n}), events taking turns`);
          const result = await runFanout({
            server,
            n,
            events: options.fanoutEvents,
            warmup: options.fanoutWarmup,
            authorization,
            itemId: fanoutItemId,
            floor: withFloor,
          });
          fanout.push({ ...result.row, title: server.id === 'graphql-js' ? 'graphql-ws + graphql-js (baseline)' : title(server.id) });
          if (result.floor) fanout.push({ ...result.floor, title: 'plain `ws` broadcast (floor)' });
        }
      }
    }
    timings['fan-out'] = seconds(phase);
  } else fanoutStatus = 'not run (--only)';

  // 4. HTTP workloads, interleaved: warm-up, then rounds of A B C D E.
  phase = performance.now();
  for (const report of reports.filter((candidate) => candidate.status === 'measured')) {
    const workload = workloads.find((candidate) => candidate.id === report.id)!;
    const opshub = byId.get('opshub')!;
    const rows = new Map<string, CandidateRow>();
    const references = new Map<string, Reference>();
    const reference = await verifyReference(targetOf(opshub), workload, fixtures, expectedData.get(workload.id));
    if ('reason' in reference) {
      report.status = 'failed';
      report.reason = `OpsHub: ${reference.reason}`;
      continue;
    }
    const ceiling = byId.get('ceiling');
    if (ceiling) {
      const response = await fetch(`${ceiling.url}/_bench/body`, { method: 'PUT', body: reference.body });
      await response.arrayBuffer();
    }
    // What each candidate runs: the workload itself, or for a candidate with its own schema its own query.
    const asRun = new Map<string, Workload>();
    for (const spec of specs) {
      const row: CandidateRow = {
        candidate: spec.id,
        title: spec.title,
        runs: [],
        failures: [],
        rps: NaN,
        p50: NaN,
        p99: NaN,
        serverCpuMs: NaN,
        databaseCpuMs: null,
        ratio: null,
      };
      rows.set(spec.id, row);
      const candidate = byId.get(spec.id);
      const own = spec.own ? ownWorkload(workload, spec.own[workload.id], expectedData.get(workload.id)) : workload;
      if (!candidate || !own) {
        row.skipped = skipped.get(spec.id) ?? `with its own schema it runs ${Object.keys(spec.own ?? {}).join(' and ')} only`;
        continue;
      }
      asRun.set(spec.id, own);
      // A candidate with its own queries is compared with OpsHub's rows by its check, not byte for byte.
      const verified =
        candidate === opshub
          ? reference
          : await verifyReference(targetOf(candidate), own, fixtures, spec.own ? undefined : expectedData.get(workload.id));
      if ('reason' in verified)
        row.runs.push({
          round: 0,
          requests: 0,
          rps: NaN,
          p50: NaN,
          p99: NaN,
          serverCpuMs: NaN,
          databaseCpuMs: null,
          failures: [verified.reason],
        });
      else references.set(spec.id, verified);
    }
    const measure = async (candidate: Spawned, durationS: number) => {
      const before = await meter!.snapshot(candidate.pid);
      const result = await runHttp({
        target: targetOf(candidate),
        workload: asRun.get(candidate.id)!,
        fixtures,
        reference: references.get(candidate.id)!,
        durationS,
        connections: options.connections,
      });
      const cpu = meter!.between(before, await meter!.snapshot(candidate.pid));
      const perRequest = (ms: number) => ms / Math.max(result.requests, 1);
      return { ...result, serverCpuMs: perRequest(cpu.serverMs), databaseCpuMs: cpu.databaseMs === null ? null : perRequest(cpu.databaseMs) };
    };
    const live = running.filter((candidate) => references.has(candidate.id));
    progress(`${workload.id}: warm-up`);
    for (const candidate of live) if (options.warmupS > 0) await measure(candidate, options.warmupS);
    for (let round = 1; round <= options.rounds; round += 1) {
      for (const candidate of live) {
        const result = await measure(candidate, options.durationS);
        rows.get(candidate.id)!.runs.push({ ...result, round });
      }
      progress(
        `${workload.id}: round ${round}/${options.rounds}: ${live.map((candidate) => `${candidate.id} ${Math.round(rows.get(candidate.id)!.runs.at(-1)!.rps)}`).join(', ')} req/s`,
      );
    }
    report.rows = [...rows.values()];
    summarise(report.rows);
  }
  timings.http = seconds(phase);

  phase = performance.now();
  await Promise.allSettled(running.map((candidate) => candidate.stop()));
  timings.stop = seconds(phase);
  timings.total = seconds(clock);

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    profile: {
      quick: options.quick,
      rounds: options.rounds,
      durationS: options.durationS,
      warmupS: options.warmupS,
      connections: options.connections,
      fanoutEvents: options.fanoutEvents,
      fanoutWarmup: options.fanoutWarmup,
    },
    environment,
    dataset,
    timings,
    workloads: reports,
    fanout,
    ...(fanoutStatus ? { fanoutStatus } : {}),
    goals: scaleOut ? [] : goals(reports, fanout),
    ...(scaleOut ? { scaleOut: scaleOutSummary(options.workers, reports, fanout) } : {}),
  };
  // A --workers run is a different comparison: it keeps its own files and leaves latest.* to the main run.
  const name = scaleOut ? 'workers' : 'latest';
  writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(report);
  writeFileSync(`${RESULTS_DIR}${name}.md`, markdown);
  process.stdout.write(markdown);
}

/**
 * `--workers N`: the build as one process and as a cluster of N workers, both on the same PostgreSQL and on Redis
 * (the cluster needs it to reach subscribers on other workers; the single process uses it too, so that the only
 * difference is the worker count). Each has its own REDIS_PREFIX, so neither sees the other's events.
 */
function scaleOutCandidates(workers: number): CandidateSpec[] {
  const redis = { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
  const prefix = (id: string) => `opshub-bench-${id}-${randomUUID()}:`;
  return [
    { id: 'opshub', title: 'OpsHub built (dist/), one process', entry: 'dist/main.js', env: { ...redis, REDIS_PREFIX: prefix('one') } },
    {
      id: WORKERS_ID,
      title: `OpsHub built (dist/), WORKERS=${workers}`,
      entry: 'dist/main.js',
      env: { ...redis, REDIS_PREFIX: prefix('workers'), WORKERS: String(workers) },
    },
  ];
}

/** N-workers / one: req/s per round of each HTTP workload, and the fan-out p99 per subscriber count. */
function scaleOutSummary(workers: number, reports: WorkloadReport[], fanout: BenchReport['fanout']): ScaleOut {
  return {
    workers,
    http: reports.map((report) => {
      const one = report.rows.find((row) => row.candidate === 'opshub');
      const many = report.rows.find((row) => row.candidate === WORKERS_ID);
      const failed = [one, many].find((row) => !row || row.failures.length > 0);
      if (report.status !== 'measured' || failed !== undefined)
        return {
          workload: report.id,
          title: report.title,
          ratio: null,
          reason: report.status !== 'measured' ? report.status : 'failed a gate',
        };
      return { workload: report.id, title: report.title, ratio: roundRatios(one!, many!, (a, b) => b.rps / a.rps) };
    }),
    fanout: [...new Set(fanout.map((row) => row.n))].map((n) => {
      const one = fanout.find((row) => row.n === n && row.candidate === 'opshub');
      const many = fanout.find((row) => row.n === n && row.candidate === WORKERS_ID);
      const complete = (row: typeof one) => row !== undefined && row.failures.length === 0 && row.delivered === row.expected;
      return {
        n,
        oneP99: one?.p99 ?? NaN,
        workersP99: many?.p99 ?? NaN,
        ratio: complete(one) && complete(many) ? many!.p99 / one!.p99 : null,
        ...(complete(one) && complete(many) ? {} : { reason: 'failed: not every event reached every subscriber' }),
      };
    }),
  };
}

/**
 * A workload as a candidate with its own schema runs it: its own query, and a check that its data, mapped to OpsHub's
 * shape, equals OpsHub's verified data. Undefined when the candidate has no counterpart.
 */
function ownWorkload(workload: Workload, own: OwnQuery | undefined, expected: unknown): Workload | undefined {
  if (!own || !workload.deterministic) return undefined;
  return {
    ...workload,
    request: own.request,
    check: (data) => {
      const wrong = workload.check(own.toOpsHub(data) as Record<string, any>);
      if (wrong) return wrong;
      return JSON.stringify(own.toOpsHub(data)) === JSON.stringify(expected) ? null : 'its rows or values differ from OpsHub’s';
    },
  };
}

/** The soft limit of open files of this process (children inherit it); null when unknown. */
function openFileLimit(): number | null {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function emptyFanout(n: number) {
  return {
    candidate: 'all',
    n,
    events: 0,
    delivered: 0,
    expected: 0,
    p50: NaN,
    p99: NaN,
    max: NaN,
    mutationMs: NaN,
    rssPerConnectionBytes: NaN,
    rssBeforeBytes: NaN,
    rssIdleBytes: NaN,
    rssPerActiveBytes: NaN,
    serverFanoutMs: NaN,
    sample: null,
  };
}

function goals(reports: WorkloadReport[], fanout: BenchReport['fanout']): BenchReport['goals'] {
  const list: BenchReport['goals'] = [];
  const ratio = (workloadId: string, candidate: string, minimum: number, label: string) => {
    const workload = reports.find((report) => report.id === workloadId);
    const row = workload?.rows.find((entry) => entry.candidate === candidate);
    const goal = `OpsHub / ${label} on ${workload?.title ?? workloadId} ≥ ${minimum}`;
    if (!workload || workload.status !== 'measured' || !row)
      list.push({ goal, value: workload?.status === 'measured' ? 'not run' : (workload?.status ?? 'not run'), met: null });
    else if (!row.ratio) list.push({ goal, value: 'failed a gate', met: false });
    else list.push({ goal, value: row.ratio.median.toFixed(2), met: row.ratio.median >= minimum });
  };
  ratio('node', 'graphql-js', 0.75, 'plain graphql-js');
  ratio('nested', 'graphql-js', 0.75, 'plain graphql-js');
  for (const id of ['node', 'items', 'nested', 'createItem']) ratio(id, 'yoga', 1.0, 'Yoga');
  for (const id of ['node', 'items', 'nested', 'createItem']) ratio(id, 'mercurius', 0.5, 'Mercurius-jit');
  const thousand = fanout.find((row) => row.candidate === 'opshub' && row.n === 1_000);
  list.push(
    thousand
      ? {
          goal: 'fan-out to 1,000 subscribers: 100 % delivered, p99 ≤ 50 ms',
          value: `${((100 * thousand.delivered) / thousand.expected).toFixed(1)} %, p99 ${thousand.p99.toFixed(1)} ms`,
          met: thousand.failures.length === 0 && thousand.delivered === thousand.expected && thousand.p99 <= 50,
          ...(thousand.failures.length ? { value: `failed: ${thousand.failures.join('; ')}` } : {}),
        }
      : { goal: 'fan-out to 1,000 subscribers: 100 % delivered, p99 ≤ 50 ms', value: 'not run', met: null },
  );
  const largest = fanout.filter((row) => row.candidate === 'opshub').sort((a, b) => b.n - a.n)[0];
  list.push(
    largest
      ? {
          goal: `≤ 50 KB RSS per idle subscribed connection (OpsHub, ${largest.n.toLocaleString('en-US')} subscribers)`,
          value: largest.failures.length
            ? `failed: ${largest.failures.join('; ')}`
            : `${(largest.rssPerConnectionBytes / 1024).toFixed(1)} KB`,
          met: largest.failures.length === 0 && largest.rssPerConnectionBytes <= 50 * 1024,
        }
      : { goal: '≤ 50 KB RSS per idle subscribed connection', value: 'not run', met: null },
  );
  return list;
}

main()
  .then(() => cleanup())
  .then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      void cleanup().finally(() => process.exit(1));
    },
  );
