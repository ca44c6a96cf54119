/**
 * Runs several variants one after the other with the same options and prints them in one table
 * ("vs first" compares each with the first variant listed):
 *   npx tsc -p bench/tsconfig.json && node dist/bench/bench/run.js [--variants baseline,saga] [--count 2000] ...
 */
import { parseBenchArgs } from './lib/args';
import { formatReport, writeResults } from './lib/report';
import { runVariant, type VariantRun } from './lib/runner';
import { VARIANTS } from './variants';

async function main(): Promise<void> {
  const { out, variants, ...options } = parseBenchArgs(process.argv.slice(2), 'bench-results.json');
  const names = variants ?? Object.keys(VARIANTS);
  const unknown = names.filter((n) => !VARIANTS[n]);
  if (unknown.length)
    throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const runs: Record<string, VariantRun> = {};
  for (const name of names) runs[name] = await runVariant(VARIANTS[name](), options);
  process.stdout.write(`\n${formatReport(Object.values(runs).flatMap((r) => r.rows))}`);
  writeResults(out, options, runs);
  process.stdout.write(`\nwrote ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
