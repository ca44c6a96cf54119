/** What the runner asks the load driver for. */
export interface LoadOptions {
  /** Sagas kept in flight at every moment (a new one starts as soon as one finishes). */
  concurrency: number;
  /** Measured sagas. */
  count: number;
  /** Sagas run (and fully drained) before the measured window; not measured. */
  warmup: number;
  /** Also return every measured latency (`latenciesMs`), e.g. to pool several windows' latencies. */
  keepLatencies?: boolean;
}

/** Figures of one measured window. Latencies in milliseconds, start → terminal state. */
export interface LoadResult {
  concurrency: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
  /** p50 of each quarter of the window, in the order the sagas finished: shows a trend (e.g. the JIT warming up). */
  p50ByQuarter: number[];
  /** With `keepLatencies`: each measured saga's latency (ms, 0.01 ms resolution), in the order they finished. */
  latenciesMs?: number[];
}

export interface RunLoadOptions extends LoadOptions {
  /** Starts one saga; resolves when it has reached its terminal state (rejects if it cannot). */
  startOne: () => Promise<void>;
  /** Called between the drained warm-up and the measured window (the runner takes its "before" readings here). */
  afterWarmup?: () => Promise<void>;
  /** Where progress lines go, about once a second. Default: stderr. */
  progress?: (line: string) => void;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Runs `total` calls of `startOne` with exactly `concurrency` in flight; reports each one's latency in ns. */
async function drive(
  total: number,
  concurrency: number,
  startOne: () => Promise<void>,
  onDone: (latencyNs: bigint) => void,
): Promise<void> {
  let issued = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && issued < total) {
      issued++;
      const t0 = process.hrtime.bigint();
      try {
        await startOne();
      } catch (err) {
        failed = true;
        throw err;
      }
      onDone(process.hrtime.bigint() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

function progressReporter(
  label: string,
  total: number,
  done: () => number,
  write: (line: string) => void,
): () => void {
  const t0 = process.hrtime.bigint();
  let lastDone = 0;
  const timer = setInterval(() => {
    const n = done();
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    write(
      `${label} ${n}/${total} sagas, ${(n / elapsed).toFixed(0)}/s overall, ${n - lastDone}/s last second`,
    );
    lastDone = n;
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Closed-loop load: warm-up (not measured, drained), then `count` measured sagas with `concurrency` in flight.
 * Each saga's latency is measured from the call of `startOne` to the settlement of its promise.
 */
export async function runLoad(options: RunLoadOptions): Promise<LoadResult> {
  const { concurrency, count, warmup, startOne } = options;
  const write = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (warmup > 0) {
    let warmed = 0;
    const stop = progressReporter(`warm-up c=${concurrency}`, warmup, () => warmed, write);
    try {
      await drive(warmup, concurrency, startOne, () => warmed++);
    } finally {
      stop();
    }
  }
  await options.afterWarmup?.();

  const latencies = new Float64Array(count);
  let done = 0;
  const stop = progressReporter(`load c=${concurrency}`, count, () => done, write);
  const t0 = process.hrtime.bigint();
  try {
    await drive(count, concurrency, startOne, (ns) => (latencies[done++] = Number(ns) / 1e6));
  } finally {
    stop();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  const quarter = Math.ceil(count / 4);
  const p50ByQuarter = [0, 1, 2, 3].map((q) =>
    round(percentile(latencies.slice(q * quarter, (q + 1) * quarter).sort(), 50)),
  );
  const latenciesMs = options.keepLatencies ? Array.from(latencies, round) : undefined;
  latencies.sort();
  return {
    concurrency,
    count,
    seconds: round(seconds),
    perSecond: round(count / seconds),
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    p99: round(percentile(latencies, 99)),
    mean: round(latencies.reduce((a, b) => a + b, 0) / count),
    max: round(latencies[count - 1]),
    p50ByQuarter,
    ...(latenciesMs && { latenciesMs }),
  };
}
