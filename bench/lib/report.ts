import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BenchOptions, ResultRow, VariantRun } from './runner';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/**
 * Prints the figures: throughput and latency, CPU seconds per process in the window, and the counted
 * transactions and broker messages per saga. With several variants, `vs first` compares sagas/s with the first
 * variant at the same concurrency.
 */
export function formatReport(rows: ResultRow[]): string {
  const first = new Map<number, number>();
  for (const r of rows) if (!first.has(r.concurrency)) first.set(r.concurrency, r.perSecond);
  const main = table(
    [
      'variant',
      'c',
      'sagas/s',
      'vs first',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'tx/saga',
      '(in-proc)',
      'msgs/saga',
    ],
    rows.map((r) => [
      r.variant,
      String(r.concurrency),
      fixed(r.perSecond),
      `${fixed(r.perSecond / first.get(r.concurrency)!, 2)}x`,
      fixed(r.p50, 2),
      fixed(r.p95, 2),
      fixed(r.p99, 2),
      fixed(r.transactionsPerSaga, 2),
      fixed(r.transactionsPerSagaInProcess, 2),
      fixed(r.messagesPerSaga, 2),
    ]),
  );
  const processes = [...new Set(rows.flatMap((r) => Object.keys(r.cpuSeconds)))];
  const cpu = table(
    ['variant', 'c', 'seconds', ...processes.map((p) => `${p} s`), 'machine ms/saga'],
    rows.map((r) => [
      r.variant,
      String(r.concurrency),
      fixed(r.seconds, 2),
      ...processes.map((p) => fixed(r.cpuSeconds[p] ?? NaN, 2)),
      fixed(((r.cpuSeconds.machine ?? NaN) * 1000) / r.count, 2),
    ]),
  );
  const notes = rows
    .filter((r) => r.counters.sessionsOpened > 0)
    .map(
      (r) =>
        `note: ${r.variant} c=${r.concurrency}: ${r.counters.sessionsOpened} connection(s) opened in the window`,
    );
  // More than 0.15 of a core busy elsewhere (the kernel and idle daemons account for less than that here).
  for (const r of rows.filter((row) => row.cpuSeconds.other > 0.15 * row.seconds)) {
    const top = r.otherTop.map((p) => `${p.comm} ${p.seconds}`).join(', ') || 'short-lived processes';
    notes.push(
      `note: ${r.variant} c=${r.concurrency}: other processes used ${r.cpuSeconds.other} CPU s (${top}): noisy`,
    );
  }
  const cpuTitle =
    'CPU seconds used in the measured window (user+sys; "other" = busy CPU of everything else)';
  return `${main}\n\n${cpuTitle}:\n${cpu}\n${notes.map((n) => `${n}\n`).join('')}`;
}

/** Writes every figure, the options and the machine to a JSON file. */
export function writeResults(path: string, options: BenchOptions, runs: Record<string, VariantRun>): void {
  const payload = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options,
    notes: [
      'Latency: start of a saga to its terminal state, measured in the process that drives the load.',
      'transactionsPerSaga: pg_stat_database.xact_commit deltas of the variant databases over the window, after ' +
        'forcing every pooled backend to flush its statistics (the flush queries are subtracted).',
      'messagesPerSaga: broker publishes confirmed in the window, counted in-process by each service.',
      'cpuSeconds: /proc/<pid>/stat utime+stime deltas over the window; postgres = backends of the variant ' +
        'databases; rabbitmq = beam.smp; machine = all busy CPU of the host (includes anything else running).',
    ],
    rows: Object.values(runs).flatMap((r) => r.rows),
    stopped: Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.stopped])),
  };
  writeFileSync(path, `${JSON.stringify(payload, null, 2)}\n`);
}
