/**
 * The hand-written baseline on its own:
 *   npx nest build -p bench/tsconfig.json && node dist/bench/bench/run-baseline.js [--count 2000] [--warmup 100]
 *     [--concurrency 1,16,64] [--out bench-results-baseline.json] [--quick]
 */
import { baselineVariant } from './baseline/variant';
import { formatReport, writeResults } from './lib/report';
import { parseBenchArgs } from './lib/args';
import { acquireBenchLock } from './lib/lock';
import { runVariant } from './lib/runner';

async function main(): Promise<void> {
  const {
    out,
    variants: _variants,
    growthSagas: _growthSagas,
    ...options
  } = parseBenchArgs(process.argv.slice(2), 'bench-results-baseline.json');
  const release = await acquireBenchLock();
  const run = await runVariant(baselineVariant(), options);
  process.stdout.write(`\n${formatReport(run.rows)}`);
  writeResults(out, options, { baseline: run });
  process.stdout.write(`\nwrote ${out}\n`);
  release();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
