/**
 * The benchmark (`npm run bench`): runs the variants one after the other with the same options, prints one table
 * ("vs first" compares each with the first variant listed), where the library's time goes, and the summary lines;
 * writes every figure to bench-results.json.
 *   npx nest build -p bench/tsconfig.json && node dist/bench/bench/run.js [--variants baseline,saga] [--quick] ...
 */
import { execFileSync } from 'node:child_process';
import { parseBenchArgs } from './lib/args';
import { acquireBenchLock } from './lib/lock';
import {
  formatProfile,
  formatReport,
  growthInterleavedLines,
  growthLines,
  interleavedLines,
  perSagaLines,
  summaryLines,
  writeResults,
} from './lib/report';
import { runInterleaved, runVariant, type ResultRow, type VariantRun } from './lib/runner';
import { ON_REQUEST, VARIANTS } from './variants';

/** The code measured: the commit, and the files of libs/ and apps/ changed since (the figures depend on them). */
function codeState(): { commit: string; uncommitted: string[] } | undefined {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const uncommitted = git('status', '--porcelain', '--', 'libs', 'apps').split('\n').filter(Boolean);
    return { commit: git('rev-parse', '--short', 'HEAD'), uncommitted };
  } catch {
    return undefined; // not a git checkout
  }
}

async function main(): Promise<void> {
  const release = await acquireBenchLock();
  const t0 = Date.now();
  const code = codeState();
  if (code) {
    const changes = code.uncommitted.length
      ? ` + ${code.uncommitted.length} uncommitted change(s) in libs/apps`
      : '';
    process.stderr.write(`measuring commit ${code.commit}${changes}\n`);
  }
  const { out, variants, growthSagas, interleaveRounds, ...options } = parseBenchArgs(
    process.argv.slice(2),
    'bench-results.json',
  );
  const growthOnly = ['saga-growth', 'saga-again'];
  const names =
    variants ??
    Object.keys(VARIANTS).filter(
      (n) => !ON_REQUEST.includes(n) && (growthSagas > 0 || !growthOnly.includes(n)),
    );
  const unknown = names.filter((n) => !VARIANTS[n]);
  if (unknown.length)
    throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const runs: Record<string, VariantRun> = {};
  const failures: Record<string, string> = {};
  for (const [i, name] of names.entries()) {
    const elapsed = ((Date.now() - t0) / 1000).toFixed(0);
    process.stderr.write(`\n##### [${i + 1}/${names.length}] ${name} (${elapsed} s elapsed)\n`);
    try {
      runs[name] = await runVariant(VARIANTS[name]({ growthSagas }), options);
    } catch (err) {
      // Report what the other variants measured; the run still fails at the end.
      failures[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`${name} FAILED: ${failures[name]}\n`);
    }
  }
  // Interleaved windows of `variants` (all their services up), at each of `concurrencies`; recorded under `key`.
  const windows: ResultRow[] = [];
  const interleave = async (
    key: string,
    variants: string[],
    concurrencies: number[],
    rounds: number,
  ): Promise<void> => {
    const elapsed = ((Date.now() - t0) / 1000).toFixed(0);
    process.stderr.write(
      `\n##### ${variants.join(', ')} interleaved at c=${concurrencies.join(',')} (${elapsed} s elapsed)\n`,
    );
    try {
      const run = await runInterleaved(
        variants.map((name) => VARIANTS[name]({ growthSagas })),
        options,
        { concurrencies, rounds, windowWarmup: Math.min(options.warmup, 20) },
      );
      runs[key] = run;
      windows.push(...run.windows);
    } catch (err) {
      failures[key] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`${key} FAILED: ${failures[key]}\n`);
    }
  };
  // At one saga in flight the ratio is smaller than the host's drift from one window to the next: measure it again
  // with the variants' windows interleaved: baseline, saga, and saga-lean, saga-explicit and saga-growth (the growth
  // run's c=1 figure) if they ran.
  if (interleaveRounds > 0 && names.includes('baseline') && names.includes('saga')) {
    const others = ['saga-lean', 'saga-explicit', 'saga-growth'].filter((n) => names.includes(n));
    await interleave('interleaved', ['baseline', 'saga', ...others], [1], interleaveRounds);
  }
  // The growth run's other concurrencies interleaved with saga's too: the sequential windows, minutes apart, have
  // differed by more than 10 % for the same code. Half the rounds (longer windows: a window of a few hundred sagas
  // at c=64 lasts about a second).
  const loaded = options.concurrencies.filter((c) => c > 1);
  if (interleaveRounds > 0 && names.includes('saga') && names.includes('saga-growth') && loaded.length > 0) {
    const rounds = Math.max(2, Math.round(interleaveRounds / 2));
    await interleave('growthInterleaved', ['saga', 'saga-growth'], loaded, rounds);
  }
  const rows = Object.values(runs).flatMap((r) => r.rows);
  const lines = [
    ...summaryLines(rows, 'saga', 'baseline'),
    ...interleavedLines(rows, windows, 'saga', 'baseline'),
    ...interleavedLines(rows, windows, 'saga-lean', 'baseline'),
    ...interleavedLines(rows, windows, 'saga-explicit', 'baseline'),
    ...growthLines(rows, 'saga-growth', ['saga', 'saga-again'], growthSagas),
    ...growthInterleavedLines(rows, windows, 'saga-growth', 'saga', growthSagas),
    ...perSagaLines(rows),
  ];
  const seconds = Math.round((Date.now() - t0) / 1000);
  process.stdout.write(`\n${formatReport(rows)}\n${formatProfile(rows, 'saga')}`);
  writeResults(out, options, runs, {
    code,
    growthSagas,
    interleaveRounds,
    seconds,
    summary: lines,
    failures,
    interleavedWindows: windows,
  });
  process.stdout.write(`\nwrote ${out} (${seconds} s in all)\n\n${lines.join('\n')}\n`);
  release();
  if (Object.keys(failures).length) {
    process.stderr.write(`\nFAILED: ${Object.keys(failures).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
