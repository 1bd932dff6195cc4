/**
 * Robust summaries for a shared, loaded machine: medians of several runs after warm-ups, never a single
 * sample, and CPU time (process.cpuUsage) rather than wall time where CPU is what is compared.
 */

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

export function round(x: number, digits = 3): number {
  return Number.isFinite(x) ? Number(x.toFixed(digits)) : x;
}

/** This process's CPU time (user + system), ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs fn, adding its CPU time to acc. */
export function timed<T>(acc: { ms: number }, fn: () => T): T {
  const t0 = cpuMs();
  try {
    return fn();
  } finally {
    acc.ms += cpuMs() - t0;
  }
}

/** `warmups` discarded runs, then `runs` kept ones. */
export function repeat<T>(runs: number, warmups: number, fn: () => T): T[] {
  for (let i = 0; i < warmups; i++) fn();
  return Array.from({ length: runs }, fn);
}
