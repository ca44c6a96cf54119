import { growthInterleavedLines, interleavedLines } from '../../bench/lib/report';
import { poolWindows, type ResultRow } from '../../bench/lib/runner';

/** A window of `latencies` (ms) with per-saga figures and CPU seconds as given. */
function window(variant: string, latencies: number[], extra: Partial<ResultRow> = {}): ResultRow {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    variant,
    concurrency: 1,
    count: latencies.length,
    seconds: latencies.reduce((a, b) => a + b, 0) / 1000,
    perSecond: 0,
    p50: sorted[Math.ceil(sorted.length / 2) - 1],
    p95: 0,
    p99: 0,
    mean: 0,
    max: sorted[sorted.length - 1],
    p50ByQuarter: [],
    latenciesMs: latencies,
    cpuSeconds: { order: 1, machine: 2 },
    transactionsPerSaga: 5,
    transactionsPerSagaInProcess: 5,
    rollbacksPerSaga: 0,
    messagesPerSaga: 4,
    consumedPerSaga: 4,
    statementsPerSaga: {},
    eventLoopUtilization: {},
    counters: {
      xactCommitByDb: { db: 10 },
      flushQueriesSubtracted: 1,
      sessionsOpened: 0,
      byService: { order: { published: 2, consumed: 2, commits: 3, rollbacks: 0 } },
    },
    otherTop: [],
    ...extra,
  };
}

describe('bench: interleaved windows', () => {
  it('pools the latencies of every window (not the mean of their p50s) and adds up counts and CPU', () => {
    const pooled = poolWindows('saga (interleaved)', [
      window('saga', [10, 11, 12], { transactionsPerSaga: 6 }),
      window('saga', [30, 31, 32, 33, 34, 35, 36], { transactionsPerSaga: 7 }),
    ]);
    expect(pooled).toMatchObject({
      variant: 'saga (interleaved)',
      count: 10,
      p50: 31, // the 5th of 10; the windows' p50s are 11 and 33
      max: 36,
      p50ByQuarter: [11, 33],
      transactionsPerSaga: 6.7, // weighted by each window's count
      cpuSeconds: { order: 2, machine: 4 },
      counters: { xactCommitByDb: { db: 20 }, byService: { order: { commits: 6 } } },
    });
    expect(pooled.perSecond).toBeCloseTo(10 / 0.264, 1); // 10 sagas in 33 + 231 ms
    expect(pooled.latenciesMs).toBeUndefined();
  });

  it('refuses windows measured without their latencies', () => {
    expect(() => poolWindows('saga', [window('saga', [1, 2], { latenciesMs: undefined })])).toThrow(
      /without their latencies/,
    );
  });

  it("closes with the pooled ratio and each round's", () => {
    const windows = [
      window('baseline', [10, 10, 10]),
      window('saga', [12, 12, 12]),
      window('saga', [15, 15, 15]),
      window('baseline', [10, 10, 10]),
    ];
    const rows = [
      poolWindows(
        'baseline (interleaved)',
        windows.filter((w) => w.variant === 'baseline'),
      ),
      poolWindows(
        'saga (interleaved)',
        windows.filter((w) => w.variant === 'saga'),
      ),
    ];
    expect(interleavedLines(rows, windows, 'saga', 'baseline')).toEqual([
      expect.stringMatching(
        /^bench c=1 interleaved \(2 rounds of 3\): saga p50 12\.0ms vs baseline 10\.0ms ratio 1\.20 \(by round 1\.20 1\.50\)/,
      ),
    ]);
  });

  it('compares the growth run with the empty tables window by window, by throughput', () => {
    const at = (variant: string, ms: number) => window(variant, [ms, ms], { perSecond: 1000 / ms });
    const windows = [at('saga', 10), at('saga-growth', 11), at('saga-growth', 20), at('saga', 16)];
    const pool = (name: string) =>
      poolWindows(
        `${name} (interleaved)`,
        windows.filter((w) => w.variant === name),
      );
    const rows = [pool('saga'), pool('saga-growth')];
    // Pooled: 4 sagas in 52 ms with empty tables, in 62 ms in the growth run: 76.9/s against 64.5/s.
    expect(growthInterleavedLines(rows, windows, 'saga-growth', 'saga', 20000)).toEqual([
      'bench growth c=1 interleaved (2 rounds of 2): saga with 20000 finished sagas preloaded 65/s vs empty ' +
        'tables 77/s ratio 0.84 (16% slower; by round 0.91 0.80) p50 11ms vs 10ms',
    ]);
    expect(growthInterleavedLines(rows.slice(0, 1), windows, 'saga-growth', 'saga', 20000)).toEqual([]);
  });

  it('gives one line per concurrency interleaved, each from its own windows', () => {
    const at = (variant: string, concurrency: number, ms: number) =>
      window(variant, [ms, ms], { concurrency, perSecond: 1000 / ms });
    const windows = [
      at('saga', 1, 10),
      at('saga-growth', 1, 10),
      at('saga', 64, 4),
      at('saga-growth', 64, 5),
    ];
    const rows = [1, 64].flatMap((c) =>
      ['saga', 'saga-growth'].map((name) =>
        poolWindows(
          `${name} (interleaved)`,
          windows.filter((w) => w.variant === name && w.concurrency === c),
        ),
      ),
    );
    expect(growthInterleavedLines(rows, windows, 'saga-growth', 'saga', 20000)).toEqual([
      expect.stringMatching(
        /^bench growth c=1 interleaved \(1 rounds of 2\): .* ratio 1\.00 \(0% slower; by round 1\.00\)/,
      ),
      expect.stringMatching(
        /^bench growth c=64 interleaved \(1 rounds of 2\): .* ratio 0\.80 \(20% slower; by round 0\.80\)/,
      ),
    ]);
  });
});
