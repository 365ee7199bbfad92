/**
 * `npm run build`: src/ → dist/ with tsc (tsconfig.build.json: type-checked, nothing emitted on an error), then the
 * files under src/ that tsc does not emit (src/server/graphiql-init.js) copied beside the compiled modules, which
 * find them through import.meta.url. A stamp written last records the start of the build that produced dist/.
 *
 * `--if-stale` (the `prestart` hook) builds only when a file under src/ or a tsconfig is newer than the stamp, so
 * `npm start` on a fresh clone builds once and later starts cost a directory walk instead of a 7–18 s tsc run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.build-stamp');
const inputs = [path.join(root, 'tsconfig.json'), path.join(root, 'tsconfig.build.json')];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(file);
    else yield file;
  }
}

function stale() {
  if (!existsSync(stamp) || !existsSync(path.join(dist, 'main.js'))) return true;
  const built = statSync(stamp).mtimeMs;
  for (const file of [...inputs, ...files(src)]) if (statSync(file).mtimeMs > built) return true;
  return false;
}

if (process.argv.includes('--if-stale') && !stale()) process.exit(0);

const started = new Date();
process.stderr.write('building dist/ from src/ (tsc -p tsconfig.build.json)…\n');
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('dist/ is missing or older than src/, and TypeScript is not installed: run `npm install` (with dev dependencies)\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

for (const file of files(src)) {
  if (file.endsWith('.ts')) continue;
  const target = path.join(dist, path.relative(src, file));
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(file, target);
}
writeFileSync(stamp, `${started.toISOString()}\n`);
// The stamp carries the start time: a source saved while tsc ran is newer than it, so the next start rebuilds.
utimesSync(stamp, started, started);
