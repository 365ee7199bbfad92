/**
 * CPU time per measured run, read from /proc so that it covers what a candidate really is: its process and every
 * process under it (cluster workers), and, on PostgreSQL, the server backends serving its connections.
 *
 * - Server: utime + stime of /proc/<pid>/stat for the candidate and its descendants (the counters process.cpuUsage
 *   reads for the process itself, in clock ticks).
 * - Database: the backends whose client port is one of the candidate's TCP connections to the PostgreSQL port
 *   (pg_stat_activity.client_port matched against the sockets in /proc/<pid>/fd), read the same way. A backend that
 *   starts during the run counts from its start; one that ends during it loses its share (pools here keep their
 *   connections, so neither happens once warmed up).
 * PGlite runs inside the candidate, so its database work is part of the server figure there.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type postgres from 'postgres';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of one process, in ms; 0 when it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The process and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i += 1) {
    try {
      for (const task of readdirSync(`/proc/${all[i]}/task`)) {
        const children = readFileSync(`/proc/${all[i]}/task/${task}/children`, 'utf8').trim();
        if (children) all.push(...children.split(' ').map(Number));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return all;
}

/** CPU ms of a process and its descendants. */
export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, member) => sum + processCpuMs(member), 0);
}

/** Local ports of the TCP connections the processes hold to `remotePort` (IPv4 and IPv6). */
function localPortsTo(pids: number[], remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (match) inodes.add(match[1]!);
        } catch {
          // Closed meanwhile.
        }
      }
    } catch {
      // Gone meanwhile.
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns.length < 10) continue;
      const [local, remote, inode] = [columns[1]!, columns[2]!, columns[9]!];
      if (!inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(':')[1]!, 16) !== remotePort) continue;
      ports.add(Number.parseInt(local.split(':')[1]!, 16));
    }
  }
  return ports;
}

export interface CpuSnapshot {
  serverMs: number;
  /** Per backend pid, its CPU ms; null when the database is not a PostgreSQL server we can see. */
  backends: Map<number, number> | null;
}

export interface CpuMeter {
  snapshot(pid: number): Promise<CpuSnapshot>;
  /** Server and database CPU ms between two snapshots (database null when not measured). */
  between(before: CpuSnapshot, after: CpuSnapshot): { serverMs: number; databaseMs: number | null };
  close(): Promise<void>;
}

/**
 * `monitor` is a connection to the bench database that reads pg_stat_activity (null on PGlite). The backends must be
 * processes of this machine for /proc to see them; when none of the candidate's connections maps to a visible
 * backend the database figure is null.
 */
export function cpuMeter(monitor: postgres.Sql | null, databasePort: number, databaseName: string): CpuMeter {
  return {
    async snapshot(pid) {
      const serverMs = treeCpuMs(pid);
      if (!monitor) return { serverMs, backends: null };
      const ports = localPortsTo(processTree(pid), databasePort);
      const rows = await monitor<{ pid: number; client_port: number | null }[]>`
        select pid, client_port from pg_stat_activity where datname = ${databaseName} and client_port is not null`;
      const backends = new Map<number, number>();
      for (const row of rows) if (ports.has(row.client_port!)) backends.set(row.pid, processCpuMs(row.pid));
      return { serverMs, backends };
    },
    between(before, after) {
      const serverMs = after.serverMs - before.serverMs;
      if (!after.backends || after.backends.size === 0) return { serverMs, databaseMs: null };
      let databaseMs = 0;
      for (const [pid, ms] of after.backends) databaseMs += ms - (before.backends?.get(pid) ?? 0);
      return { serverMs, databaseMs };
    },
    async close() {
      await monitor?.end({ timeout: 5 });
    },
  };
}
