/**
 * Preloaded (`--import`) into every candidate process, OpsHub included; it changes nothing they serve.
 * - Watchdog: when the harness dies without cleaning up (SIGKILL, a crash), the candidate notices it was re-parented
 *   and exits instead of lingering on its port.
 * - SIGUSR2 runs a full garbage collection (the harness starts candidates with --expose-gc), so the fan-out
 *   workload can read resident memory without garbage from earlier work in it.
 */
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1_000).unref();

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
});
