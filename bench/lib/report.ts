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

export interface CandidateRow {
  candidate: string;
  title: string;
  runs: Array<RunResult & { round: number }>;
  failures: string[];
  rps: number;
  p50: number;
  p99: number;
  /** OpsHub's req/s divided by this candidate's, per round: median, min, max. */
  ratio: { median: number; min: number; max: number } | null;
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
  profile: { quick: boolean; rounds: number; durationS: number; warmupS: number; connections: number; fanoutEvents: number };
  environment: Environment;
  dataset: Array<{ name: string; rows?: number; status: string }>;
  timings: Record<string, number>;
  workloads: WorkloadReport[];
  fanout: Array<FanoutResult & { title: string }>;
  fanoutStatus?: string;
  goals: Array<{ goal: string; value: string; met: boolean | null }>;
}

/** Fills rps/p50/p99 medians and ratios to OpsHub from the runs of each row. */
export function summarise(rows: CandidateRow[]): void {
  const reference = rows.find((row) => row.candidate === 'opshub');
  for (const row of rows) {
    const passed = row.runs.filter((run) => run.failures.length === 0);
    row.failures = [...new Set(row.runs.flatMap((run) => run.failures.map((failure) => `round ${run.round}: ${failure}`)))];
    row.rps = median(passed.map((run) => run.rps));
    row.p50 = median(passed.map((run) => run.p50));
    row.p99 = median(passed.map((run) => run.p99));
    row.ratio = null;
    if (!reference || row.failures.length > 0 || reference.runs.some((run) => run.failures.length > 0)) continue;
    const ratios = row.runs.map((run) => {
      const opshub = reference.runs.find((candidate) => candidate.round === run.round)!;
      return opshub.rps / run.rps;
    });
    row.ratio = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  }
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
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
  lines.push('| workload | candidate | req/s | p50 ms | p99 ms | OpsHub / this: median [min–max] | machine · Node · database |');
  lines.push('|---|---|---:|---:|---:|---|---|');
  for (const workload of report.workloads) {
    if (workload.status !== 'measured') {
      lines.push(`| ${workload.title} | — | ${workload.status}: ${workload.reason ?? ''} | | | | ${env} |`);
      continue;
    }
    for (const row of workload.rows) {
      const failed = row.failures.length > 0;
      const ratio = row.ratio ? `${fixed(row.ratio.median, 2)} [${fixed(row.ratio.min, 2)}–${fixed(row.ratio.max, 2)}]` : '–';
      lines.push(
        failed
          ? `| ${workload.title} | ${row.title} | failed: ${row.failures.slice(0, 2).join('; ')} | | | | ${env} |`
          : `| ${workload.title} | ${row.title} | ${thousands(row.rps)} | ${fixed(row.p50, 1)} | ${fixed(row.p99, 1)} | ${ratio} | ${env} |`,
      );
    }
  }
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
    'Latency runs from sending the publishing `updateItem` mutation to each subscriber receiving the event, so it includes that mutation’s UPDATE (its round trip is in its own column). RSS per subscription is the server’s VmRSS with the N subscriptions open and idle minus its VmRSS before, over N; per active subscription the same once the events went out. Server publish → last write is OpsHub’s own `opshub_realtime_fanout_seconds` (mean per event); for the floor, a plain `ws` server broadcasting the bytes of one of OpsHub’s `next` messages to as many sockets in the same run (its “mutation RTT” is the broadcast request’s round trip), the time of its broadcast loop.',
  );
  lines.push('');
  lines.push('## Goals');
  lines.push('');
  lines.push('| goal | measured | met |');
  lines.push('|---|---|---|');
  for (const goal of report.goals)
    lines.push(`| ${goal.goal} | ${goal.value} | ${goal.met === null ? 'not measured' : goal.met ? 'yes' : 'no'} |`);
  lines.push('');
  return lines.join('\n');
}
