/**
 * `npx tsx bench/profile-top.ts <file.cpuprofile> [count]`: the functions with the most self time in a V8 CPU
 * profile (from `npm run bench -- --cpu-prof`), and the same time summed per package, to name the top costs.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const [file, countArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [count]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] };
const count = Number(countArg ?? 30);
const totalHits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
const msPerHit = (profile.endTime - profile.startTime) / 1_000 / Math.max(totalHits, 1);

function where(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node core';
  const src = url.indexOf('/src/');
  if (src >= 0)
    return `opshub ${url
      .slice(src + 1)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  return url === '' ? '(native / V8)' : url.split('/').slice(-2).join('/');
}

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  if (hits === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || '(anonymous)'}  ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  const pkg = ['(idle)', '(garbage collector)', '(program)'].includes(functionName) ? functionName : where(url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
}

const pct = (hits: number) => `${((100 * hits) / totalHits).toFixed(1).padStart(5)} %`;
const ms = (hits: number) => `${(hits * msPerHit).toFixed(0).padStart(7)} ms`;
process.stdout.write(`${file}: ${((totalHits * msPerHit) / 1000).toFixed(1)} s sampled\n\nSelf time by package:\n`);
for (const [name, hits] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 20))
  process.stdout.write(`${pct(hits)} ${ms(hits)}  ${name}\n`);
process.stdout.write(`\nSelf time by function (top ${count}):\n`);
for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, count))
  process.stdout.write(`${pct(hits)} ${ms(hits)}  ${name}\n`);
