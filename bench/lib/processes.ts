/**
 * Candidate processes: spawned with `node --import tsx`, each on its own 127.0.0.1 port, logs in
 * bench/results/logs/. Every child is registered so that exit, Ctrl-C and crashes stop it; the watchdog preloaded
 * into each child (candidates/preload.ts) covers the case where the harness itself is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { processTree } from './cpu.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../candidates/preload.ts', import.meta.url));

const children = new Set<ChildProcess>();

/** Kills every child still running; synchronous, so it also works from an `exit` handler. */
export function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
process.once('exit', () => killAll());

/** Registers a child so that killAll() stops it too. */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** A free TCP port on 127.0.0.1, chosen by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  id: string;
  pid: number;
  port: number;
  url: string;
  logFile: string;
  child: ChildProcess;
  /**
   * Resident set size in bytes (VmRSS of /proc/<pid>/status) of the candidate's Node processes: the process itself
   * and, for a cluster, its workers (every descendant that loaded candidates/preload.ts; tsx's esbuild helper is not
   * one of them).
   */
  rss(): number;
  /** The same after two full garbage collections in each of those processes (see candidates/preload.ts). */
  rssAfterGc(): Promise<number>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  id: string;
  /** Script path relative to the repository root. */
  entry: string;
  env: Record<string, string>;
  nodeArgs?: string[];
}

export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1_024;
}

/** The processes of the tree under `pid` that run the preload (Node processes of the candidate, workers included). */
function nodeProcesses(pid: number): number[] {
  return processTree(pid).filter((member) => {
    try {
      return member === pid || readFileSync(`/proc/${member}/cmdline`, 'utf8').includes(PRELOAD);
    } catch {
      return false;
    }
  });
}

export async function spawnCandidate(options: SpawnOptions): Promise<Spawned> {
  const port = await freePort();
  mkdirSync(`${RESULTS_DIR}logs`, { recursive: true });
  const logFile = `${RESULTS_DIR}logs/${options.id}.log`;
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--expose-gc', '--import', 'tsx', '--import', PRELOAD, options.entry], {
    cwd: ROOT,
    env: { ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  track(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    id: options.id,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    logFile,
    child,
    rss: () => nodeProcesses(child.pid!).reduce((sum, pid) => sum + readRss(pid), 0),
    async rssAfterGc() {
      // Only processes with the preload's SIGUSR2 handler: the signal's default action is to terminate.
      const members = nodeProcesses(child.pid!);
      for (const pid of members) process.kill(pid, 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 500));
      return members.reduce((sum, pid) => sum + readRss(pid), 0);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** Waits until the candidate answers `{ __typename }` on /graphql (any HTTP status counts as up). */
export async function waitReady(candidate: Spawned, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (candidate.child.exitCode !== null || candidate.child.signalCode !== null) {
      throw new Error(`${candidate.id} exited during start-up:\n${logTail(candidate.logFile)}`);
    }
    try {
      const response = await fetch(`${candidate.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
        signal: AbortSignal.timeout(2_000),
      });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`${candidate.id} did not answer within ${timeoutMs / 1000} s:\n${logTail(candidate.logFile)}`);
}
