/** Command-line options of `npm run bench`, and the two profiles (quick and full). */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  /** Measured rounds per workload, after one warm-up round. */
  rounds: number;
  /** Seconds per measured run (one candidate, one workload, one round). */
  durationS: number;
  /** Seconds of the warm-up run per candidate and workload. */
  warmupS: number;
  /** Concurrent HTTP connections autocannon keeps open. */
  connections: number;
  /** Subscriber counts of the fan-out workload. */
  fanout: number[];
  /** Events published, one at a time, per fan-out run. */
  fanoutEvents: number;
  /** Events published unmeasured before them (the same for every fan-out row). */
  fanoutWarmup: number;
  /** Only these workloads (ids), or all. */
  only: string[] | null;
  /** Only these candidates (ids), or all; OpsHub always runs, it is the reference. */
  candidates: string[] | null;
  /** Start every candidate with --cpu-prof; profiles land in bench/results/profiles/<candidate id>. */
  cpuProf: boolean;
  /** Environment of a second OpsHub (`opshub-variant`) run in the same rounds, or null: A/B of a setting. */
  variant: Record<string, string> | null;
  /** Above 1: compare OpsHub as this many cluster workers with OpsHub as one process (PostgreSQL only). */
  workers: number;
}

const HELP = `Usage: npm run bench -- [options]
  --quick              short profile: 5 rounds of 0.8 s, fan-out to 100 and 1,000 (about 4 minutes)
  --rounds <n>         measured rounds per workload (default 7; quick 5)
  --duration <s>       seconds per measured run (default 3; quick 0.8)
  --warmup <s>         seconds of warm-up per candidate and workload (default 2; quick 0.5)
  --connections <n>    concurrent HTTP connections (default 10)
  --fanout <n,n>       subscriber counts (default 100,1000,5000; quick 100,1000)
  --fanout-events <n>  events published per fan-out run (default 50; quick 20)
  --fanout-warmup <n>  events published unmeasured before those, in every fan-out row (default 5)
  --only <ids>         workloads to run: node,items,nested,createItem,fanout
  --candidates <ids>   peers to run besides OpsHub: opshub-traced,graphql-js,yoga,mercurius,lean,postgraphile,ceiling
  --variant <K=V,…>    also run OpsHub with these environment variables set (candidate opshub-variant), in the
                       same interleaved rounds: an A/B of a setting against the same build
  --cpu-prof           profile every candidate (node --cpu-prof) into bench/results/profiles/<candidate>
  --workers <n>        instead of the peers: OpsHub as n cluster workers against one process (PostgreSQL and
                       Redis only; results in bench/results/workers.md)
`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      fanout: { type: 'string' },
      'fanout-events': { type: 'string' },
      'fanout-warmup': { type: 'string' },
      only: { type: 'string' },
      candidates: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      variant: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const number = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number of at least ${min}`);
    return value;
  };
  const list = (raw: string | undefined) =>
    raw
      ? raw
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : null;
  return {
    quick,
    rounds: Math.round(number(values.rounds, quick ? 5 : 7, 'rounds', 1)),
    durationS: number(values.duration, quick ? 0.8 : 3, 'duration', 0.2),
    warmupS: number(values.warmup, quick ? 0.5 : 2, 'warmup', 0),
    connections: Math.round(number(values.connections, 10, 'connections', 1)),
    fanout: (list(values.fanout) ?? (quick ? ['100', '1000'] : ['100', '1000', '5000'])).map((n) => {
      const value = Number(n);
      if (!Number.isInteger(value) || value < 1) throw new Error('--fanout takes positive integers');
      return value;
    }),
    fanoutEvents: Math.round(number(values['fanout-events'], quick ? 20 : 50, 'fanout-events', 1)),
    fanoutWarmup: Math.round(number(values['fanout-warmup'], 5, 'fanout-warmup', 1)),
    only: list(values.only),
    candidates: list(values.candidates),
    cpuProf: values['cpu-prof'] ?? false,
    variant: variantOf(list(values.variant)),
    workers: Math.round(number(values.workers, 1, 'workers', 1)),
  };
}

function variantOf(pairs: string[] | null): Record<string, string> | null {
  if (!pairs) return null;
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error('--variant takes NAME=value pairs, separated by commas');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
