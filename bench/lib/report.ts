/** The result document (bench/results/latest.json) and its markdown rendering (stdout and latest.md). */
import type { FanoutResult } from './fanout.js';
import type { RunResult } from './http-bench.js';
import { median } from './stats.js';

export interface Environment {
  machine: string;
  cpus: number;
  cpuModel: string;
  node: string;
  database: string;
  databaseKind: 'postgres' | 'pglite';
  loadAverageAtStart: number[];
}

/** One measured run with the CPU it cost, per request (lib/cpu.ts); database null when not measurable. */
export type MeasuredRun = RunResult & { round: number; serverCpuMs: number; databaseCpuMs: number | null };

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface CandidateRow {
  candidate: string;
  title: string;
  runs: MeasuredRun[];
  failures: string[];
  /** Why the candidate did not run this workload (e.g. PostgreSQL only, or no such query in its schema). */
  skipped?: string;
  rps: number;
  p50: number;
  p99: number;
  /** Medians over the passed runs of CPU ms per request: the candidate's processes and its database backends. */
  serverCpuMs: number;
  databaseCpuMs: number | null;
  /** The reference's req/s divided by this candidate's, per round: median, min, max. */
  ratio: Spread | null;
}

/** `--workers N`: OpsHub as N cluster workers against OpsHub as one process, as N-workers / one ratios. */
export interface ScaleOut {
  workers: number;
  http: Array<{ workload: string; title: string; ratio: Spread | null; reason?: string }>;
  fanout: Array<{ n: number; oneP99: number; workersP99: number; ratio: number | null; reason?: string }>;
}

export interface WorkloadReport {
  id: string;
  title: string;
  status: 'measured' | 'not available yet' | 'failed';
  reason?: string;
  sql?: { statements: number; contextStatements: number; budget: number; ok: boolean };
  rows: CandidateRow[];
}

export interface BenchReport {
  startedAt: string;
  profile: {
    quick: boolean;
    rounds: number;
    durationS: number;
    warmupS: number;
    connections: number;
    fanoutEvents: number;
    fanoutWarmup: number;
  };
  environment: Environment;
  dataset: Array<{ name: string; rows?: number; status: string }>;
  timings: Record<string, number>;
  workloads: WorkloadReport[];
  fanout: Array<FanoutResult & { title: string }>;
  fanoutStatus?: string;
  goals: Array<{ goal: string; value: string; met: boolean | null }>;
  scaleOut?: ScaleOut;
}

/** Fills rps/p50/p99 and CPU medians, and ratios to OpsHub, from the runs of each row. */
export function summarise(rows: CandidateRow[]): void {
  const reference = rows.find((row) => row.candidate === 'opshub');
  for (const row of rows) {
    const passed = row.runs.filter((run) => run.failures.length === 0);
    row.failures = [...new Set(row.runs.flatMap((run) => run.failures.map((failure) => `round ${run.round}: ${failure}`)))];
    row.rps = median(passed.map((run) => run.rps));
    row.p50 = median(passed.map((run) => run.p50));
    row.p99 = median(passed.map((run) => run.p99));
    row.serverCpuMs = median(passed.map((run) => run.serverCpuMs));
    const database = passed.map((run) => run.databaseCpuMs).filter((ms): ms is number => ms !== null);
    row.databaseCpuMs = database.length ? median(database) : null;
    row.ratio = null;
    if (!reference || row.skipped || row.failures.length > 0 || reference.runs.some((run) => run.failures.length > 0)) continue;
    row.ratio = roundRatios(reference, row, (opshub, run) => opshub.rps / run.rps);
  }
}

/** `ratio(a, b)` for the runs of two rows in the same round: median, min, max. */
export function roundRatios(a: CandidateRow, b: CandidateRow, ratio: (a: MeasuredRun, b: MeasuredRun) => number): Spread | null {
  const values = b.runs.flatMap((run) => {
    const other = a.runs.find((candidate) => candidate.round === run.round);
    return other ? [ratio(other, run)] : [];
  });
  return values.length ? { median: median(values), min: Math.min(...values), max: Math.max(...values) } : null;
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const spread = (ratio: Spread | null) => (ratio ? `${fixed(ratio.median, 2)} [${fixed(ratio.min, 2)}–${fixed(ratio.max, 2)}]` : '–');
const thousands = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');

export function environmentLabel(environment: Environment): string {
  return `${environment.cpus}× ${environment.cpuModel} · Node ${environment.node} · ${environment.database}`;
}

export function renderMarkdown(report: BenchReport): string {
  const env = environmentLabel(report.environment);
  const lines: string[] = [];
  const profile = report.profile;
  lines.push(`# OpsHub benchmark${profile.quick ? ' (--quick)' : ''}`);
  lines.push('');
  lines.push(
    `Run ${report.startedAt} on ${env}; load average at start ${report.environment.loadAverageAtStart.map((value) => value.toFixed(2)).join(' / ')}.`,
  );
  lines.push(
    `${profile.rounds} interleaved rounds of ${profile.durationS} s per candidate after a ${profile.warmupS} s warm-up, ${profile.connections} connections. ` +
      `Timings: ${Object.entries(report.timings)
        .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
        .join(', ')}.`,
  );
  lines.push(
    `Data set: ${report.dataset.map((part) => (part.rows !== undefined ? `${part.rows.toLocaleString('en-US')} ${part.name}` : `${part.name} (${part.status})`)).join(', ')}.`,
  );
  lines.push('');
  lines.push('## HTTP workloads');
  lines.push('');
  lines.push(
    '| workload | candidate | req/s | p50 ms | p99 ms | server CPU ms/req | DB CPU ms/req | OpsHub / this: median [min–max] | machine · Node · database |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---|---|');
  const pglite = report.environment.databaseKind === 'pglite';
  for (const workload of report.workloads) {
    if (workload.status !== 'measured') {
      lines.push(`| ${workload.title} | — | ${workload.status}: ${workload.reason ?? ''} | | | | | | ${env} |`);
      continue;
    }
    for (const row of workload.rows) {
      const database = pglite ? 'in server' : row.databaseCpuMs === null ? '–' : fixed(row.databaseCpuMs, 2);
      if (row.skipped) lines.push(`| ${workload.title} | ${row.title} | not run: ${row.skipped} | | | | | | ${env} |`);
      else if (row.failures.length > 0)
        lines.push(`| ${workload.title} | ${row.title} | failed: ${row.failures.slice(0, 2).join('; ')} | | | | | | ${env} |`);
      else
        lines.push(
          `| ${workload.title} | ${row.title} | ${thousands(row.rps)} | ${fixed(row.p50, 1)} | ${fixed(row.p99, 1)} | ` +
            `${fixed(row.serverCpuMs, 2)} | ${database} | ${spread(row.ratio)} | ${env} |`,
        );
    }
  }
  lines.push('');
  lines.push(
    `CPU per request: utime + stime (/proc/<pid>/stat) of the candidate's processes (workers included) over each measured run, divided by its requests; ` +
      (pglite
        ? 'PGlite runs inside each candidate, so its database work is in the server figure.'
        : 'DB is the same for the PostgreSQL backends serving the candidate’s connections (pg_stat_activity.client_port matched to its sockets).') +
      ' Medians over the rounds; the load generator runs in the harness and is in neither.',
  );
  lines.push('');
  const sqlLines = report.workloads.filter((workload) => workload.sql);
  if (sqlLines.length) {
    lines.push(
      'SQL statements per request (verification run with DEBUG_SQL, same resolvers): ' +
        sqlLines
          .map(
            (workload) =>
              `${workload.id} ${workload.sql!.statements} (context ${workload.sql!.contextStatements}, budget ${workload.sql!.budget} + context)${workload.sql!.ok ? '' : ' OVER BUDGET'}`,
          )
          .join('; ') +
        '.',
    );
    lines.push('');
  }
  lines.push('## Subscription fan-out (`itemChanged`, one event at a time)');
  lines.push('');
  if (report.fanoutStatus) {
    lines.push(report.fanoutStatus);
  } else {
    lines.push(
      '| subscribers | server | delivered / expected | p50 ms | p99 ms | max ms | mutation RTT ms | server publish → last write ms | RSS per idle subscription | RSS per active subscription | machine · Node · database |',
    );
    lines.push('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of report.fanout) {
      const delivered = `${row.delivered.toLocaleString('en-US')} / ${row.expected.toLocaleString('en-US')} (${fixed((100 * row.delivered) / row.expected, 1)} %)`;
      lines.push(
        row.failures.length > 0
          ? `| ${row.n.toLocaleString('en-US')} | ${row.title} | failed: ${row.failures.join('; ')} | | | | | | | | ${env} |`
          : `| ${row.n.toLocaleString('en-US')} | ${row.title} | ${delivered} | ${fixed(row.p50, 1)} | ${fixed(row.p99, 1)} | ${fixed(row.max, 1)} | ${fixed(row.mutationMs, 1)} | ${fixed(row.serverFanoutMs, 1)} | ${fixed(row.rssPerConnectionBytes / 1024, 1)} KB | ${fixed(row.rssPerActiveBytes / 1024, 1)} KB | ${env} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    `${profile.fanoutEvents} events per row, after ${profile.fanoutWarmup} published unmeasured (the same for every row). ` +
      'Latency runs from sending the publishing `updateItem` mutation to each subscriber receiving the event, so it includes that mutation’s UPDATE (its round trip is in its own column). RSS per subscription is the server’s VmRSS with the N subscriptions open and idle minus its VmRSS before, over N; per active subscription the same once the events went out. Server publish → last write is OpsHub’s own `opshub_realtime_fanout_seconds` (mean per measured event, from publication to the end of its loop of socket writes); for the floor, a plain `ws` server broadcasting the bytes of one of OpsHub’s `next` messages to as many sockets, its events taking turns with OpsHub’s in the same run (its “mutation RTT” is the broadcast request’s round trip), the time of its broadcast loop.',
  );
  lines.push('');
  if (report.scaleOut) {
    const { workers } = report.scaleOut;
    lines.push(`## Scale out: ${workers} cluster workers / one process`);
    lines.push('');
    lines.push(
      `The same build (dist/main.js) on the same PostgreSQL and Redis (each with its own REDIS_PREFIX), once as one process and once with WORKERS=${workers}. For req/s a ratio above 1 means the workers serve more; for the fan-out p99 below 1 means they deliver sooner. Subscribers connect to the primary's port, which hands each connection to a worker, so they are split across the processes and every event crosses Redis to reach the other worker's share.`,
    );
    lines.push('');
    lines.push(`| measure | ${workers} workers / one: median [min–max] | machine · Node · database |`);
    lines.push('|---|---|---|');
    for (const row of report.scaleOut.http) lines.push(`| req/s, ${row.title} | ${row.reason ?? spread(row.ratio)} | ${env} |`);
    for (const row of report.scaleOut.fanout)
      lines.push(
        `| fan-out p99 to ${row.n.toLocaleString('en-US')} subscribers (${fixed(row.workersP99, 1)} ms / ${fixed(row.oneP99, 1)} ms) | ${row.reason ?? fixed(row.ratio ?? NaN, 2)} | ${env} |`,
      );
    lines.push('');
  }
  if (report.goals.length === 0) return lines.join('\n');
  lines.push('## Goals');
  lines.push('');
  lines.push('| goal | measured | met |');
  lines.push('|---|---|---|');
  for (const goal of report.goals)
    lines.push(`| ${goal.goal} | ${goal.value} | ${goal.met === null ? 'not measured' : goal.met ? 'yes' : 'no'} |`);
  lines.push('');
  return lines.join('\n');
}
