/**
 * One process per PGlite directory. PGlite has no lock of its own: two processes on one DATA_DIR each open the same
 * files and corrupt them, or one writes sessions the other never sees. The lock is a file created exclusively (`wx`,
 * atomic on every local filesystem) holding the holder's pid, removed when the database closes or the process
 * exits. A lock whose pid no longer runs was left by a crash and is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'opshub.lock';

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`DATA_DIR ${dir} is in use by process ${pid} (an OpsHub server); stop it or choose another DATA_DIR`);
  }
}

export interface DataDirLock {
  /** Removes the lock file if it is still ours; idempotent. */
  release(): void;
}

/** The pid recorded in `dir`'s lock, or null when there is none (or it names no process that runs). */
export function lockHolder(dir: string): number | null {
  const pid = recordedPid(path.join(dir, LOCK_FILE));
  return pid !== null && isRunning(pid) ? pid : null;
}

function recordedPid(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `dir`'s lock or throws DataDirLockedError naming the holder. */
export function lockDataDir(dir: string): DataDirLock {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = recordedPid(file);
      if (holder !== null && holder !== process.pid && isRunning(holder)) throw new DataDirLockedError(dir, holder);
      // Stale (its process is gone) or unreadable (a crash between create and write): remove it and try again. Two
      // processes taking over the same stale lock at once both unlink; the exclusive create still lets one win.
      if (attempt >= 3) throw new DataDirLockedError(dir, holder ?? 0);
      try {
        unlinkSync(file);
      } catch (unlinkError) {
        if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError;
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.removeListener('exit', release);
      if (recordedPid(file) !== process.pid) return;
      try {
        unlinkSync(file);
      } catch {
        // Already gone: nothing to release.
      }
    };
    // process.exit() (a shutdown that timed out, a fatal error) skips close(): the lock still goes with the process.
    process.on('exit', release);
    return { release };
  }
}
