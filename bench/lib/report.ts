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

const perSec = (r: ResultRow): string => `${Math.round(r.perSecond)}/s`;
const ms = (n: number): string => `${Math.round(n)}ms`;

/**
 * The closing lines, one per concurrency, comparing `subject` with `reference` (same run):
 * `bench c=64: saga 612/s baseline 701/s ratio 0.87 p50 41ms vs 37ms`.
 */
export function summaryLines(rows: ResultRow[], subject: string, reference: string): string[] {
  const lines: string[] = [];
  for (const r of rows.filter((row) => row.variant === subject)) {
    const ref = rows.find((row) => row.variant === reference && row.concurrency === r.concurrency);
    if (!ref) continue;
    lines.push(
      `bench c=${r.concurrency}: ${subject} ${perSec(r)} ${reference} ${perSec(ref)} ` +
        `ratio ${(r.perSecond / ref.perSecond).toFixed(2)} p50 ${ms(r.p50)} vs ${ms(ref.p50)}`,
    );
  }
  return lines;
}

/**
 * The closing line of an interleaved measurement (`runInterleaved`): the pooled p50 of `subject` against
 * `reference`, and the ratio of each round (the two windows measured one after the other), e.g.
 * `bench c=1 interleaved (8 rounds of 250): saga p50 13.1ms vs baseline 10.2ms ratio 1.28 (by round 1.25 … 1.31)`.
 */
export function interleavedLines(
  rows: ResultRow[],
  windows: ResultRow[],
  subject: string,
  reference: string,
): string[] {
  return pairs(rows, windows, subject, reference).map(({ s, ref, mine, theirs }) => {
    const byRound = roundRatios(mine, theirs, (w) => w.p50);
    return (
      `bench c=${s.concurrency} interleaved (${mine.length} rounds of ${mine[0]?.count}): ${subject} p50 ` +
      `${s.p50.toFixed(1)}ms vs ${reference} ${ref.p50.toFixed(1)}ms ratio ${(s.p50 / ref.p50).toFixed(2)} ` +
      `(by round ${byRound.join(' ')}) ${perSec(s)} vs ${perSec(ref)}`
    );
  });
}

/** `metric` of each of `mine`'s windows against the window of the same round in `theirs`, as text. */
function roundRatios(mine: ResultRow[], theirs: ResultRow[], metric: (w: ResultRow) => number): string[] {
  return mine
    .map((w, i) => (theirs[i] ? (metric(w) / metric(theirs[i])).toFixed(2) : undefined))
    .filter((r): r is string => r !== undefined);
}

/** A throughput ratio as the growth lines say it: `12% slower` or `3% faster`. */
function change(ratio: number): string {
  return ratio <= 1 ? `${Math.round((1 - ratio) * 100)}% slower` : `${Math.round((ratio - 1) * 100)}% faster`;
}

/** The pooled rows and the windows of `subject` and `reference` at each concurrency where both were interleaved. */
function pairs(
  rows: ResultRow[],
  windows: ResultRow[],
  subject: string,
  reference: string,
): { s: ResultRow; ref: ResultRow; mine: ResultRow[]; theirs: ResultRow[] }[] {
  const found: { s: ResultRow; ref: ResultRow; mine: ResultRow[]; theirs: ResultRow[] }[] = [];
  for (const s of rows.filter((r) => r.variant === `${subject} (interleaved)`)) {
    const c = s.concurrency;
    const ref = rows.find((r) => r.variant === `${reference} (interleaved)` && r.concurrency === c);
    if (!ref) continue;
    const at = (variant: string) => windows.filter((w) => w.variant === variant && w.concurrency === c);
    found.push({ s, ref, mine: at(subject), theirs: at(reference) });
  }
  return found;
}

/**
 * The growth run measured interleaved with `saga` (empty tables), one line per concurrency: the windows alternate,
 * so the host's drift between them — often larger than the 10 % the target allows — weighs on both alike.
 * Throughput (pooled over the windows) and p50 compared, with the throughput ratio of each round.
 */
export function growthInterleavedLines(
  rows: ResultRow[],
  windows: ResultRow[],
  grown: string,
  empty: string,
  preloaded: number,
): string[] {
  return pairs(rows, windows, grown, empty).map(({ s: g, ref: e, mine, theirs }) => {
    const byRound = roundRatios(mine, theirs, (w) => w.perSecond);
    const ratio = g.perSecond / e.perSecond;
    return (
      `bench growth c=${g.concurrency} interleaved (${mine.length} rounds of ${mine[0]?.count}): saga with ` +
      `${preloaded} finished sagas preloaded ${perSec(g)} vs empty tables ${perSec(e)} ratio ${ratio.toFixed(2)} ` +
      `(${change(ratio)}; by round ${byRound.join(' ')}) p50 ${ms(g.p50)} vs ${ms(e.p50)}`
    );
  });
}

/**
 * One line per concurrency: the growth run (`grown`) against the empty-table runs (`empty`: those measured, e.g. the
 * run before it and the run after it), throughput and p50 compared with their mean.
 */
export function growthLines(
  rows: ResultRow[],
  grown: string,
  empty: readonly string[],
  preloaded: number,
): string[] {
  const lines: string[] = [];
  for (const g of rows.filter((row) => row.variant === grown)) {
    const refs = rows.filter((row) => empty.includes(row.variant) && row.concurrency === g.concurrency);
    if (refs.length === 0) continue;
    const perSecond = mean(refs.map((r) => r.perSecond));
    const p50 = mean(refs.map((r) => r.p50));
    const ratio = g.perSecond / perSecond;
    const each = refs.length > 1 ? ` (${refs.map((r) => `${r.variant} ${perSec(r)}`).join(', ')})` : '';
    lines.push(
      `bench growth c=${g.concurrency}: saga with ${preloaded} finished sagas preloaded ${perSec(g)} vs empty ` +
        `tables ${perSecond.toFixed(0)}/s${each} ratio ${ratio.toFixed(2)} (${change(ratio)}) p50 ${ms(g.p50)} vs ${ms(p50)}`,
    );
  }
  return lines;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * One line per variant: transactions and broker messages per saga at each concurrency. Variants without a
 * PostgreSQL database (SQLite) show the in-process count of commits, marked `(in-process)`.
 */
export function perSagaLines(rows: ResultRow[]): string[] {
  const variants = [...new Set(rows.map((r) => r.variant))];
  return variants.map((v) => {
    const parts = rows
      .filter((r) => r.variant === v)
      .map((r) => {
        const pg = Number.isFinite(r.transactionsPerSaga);
        const tx = pg ? r.transactionsPerSaga : r.transactionsPerSagaInProcess;
        return `c=${r.concurrency} ${tx.toFixed(2)} tx${pg ? '' : ' (in-process)'} ${r.messagesPerSaga.toFixed(2)} msgs`;
      });
    return `bench ${v} per saga: ${parts.join(', ')}`;
  });
}

/**
 * Where the time goes: per service, CPU ms per saga, event-loop utilisation, commits, statements and their summed
 * wall time per saga (statements: the library's variants with the statement profile, see BENCH_SQL_PROFILE); then
 * the statements per saga by kind for each concurrency of `detail` (e.g. `saga`), when profiled.
 */
export function formatProfile(rows: ResultRow[], detail: string): string {
  const isProfiled = (r: ResultRow): boolean => Object.keys(r.statementsPerSaga ?? {}).length > 0;
  const profiled = rows.filter(isProfiled);
  const perService: string[][] = [];
  for (const r of rows) {
    const statements = isProfiled(r);
    const counted = Number.isFinite(r.transactionsPerSagaInProcess); // see BENCH_SQL_PROFILE
    for (const [service, c] of Object.entries(r.counters.byService)) {
      const stmts = Object.entries(r.statementsPerSaga ?? {}).filter(([k]) => k.startsWith(`${service}: `));
      const count = stmts.reduce((n, [, v]) => n + v.count, 0);
      const dbMs = stmts.reduce((n, [, v]) => n + v.ms, 0);
      perService.push([
        r.variant,
        String(r.concurrency),
        service,
        fixed(((r.cpuSeconds[service] ?? NaN) * 1000) / r.count, 2),
        fixed(r.eventLoopUtilization[service] ?? NaN, 2),
        fixed(counted ? c.commits / r.count : NaN, 2),
        fixed(statements ? count : NaN, 1),
        fixed(statements ? dbMs : NaN, 1),
      ]);
    }
  }
  if (perService.length === 0) return '';
  const services = table(
    ['variant', 'c', 'process', 'CPU ms/saga', 'ELU', 'commits/saga', 'stmts/saga', 'stmt ms/saga'],
    perService,
  );
  const detailRows = profiled.filter((r) => r.variant === detail);
  let kinds = '';
  if (detailRows.length > 0) {
    const keys = [...new Set(detailRows.flatMap((r) => Object.keys(r.statementsPerSaga)))].sort();
    kinds =
      `\n\n${detail}: statements per saga by kind (count, and summed wall time in ms, per saga):\n` +
      table(
        [
          'statement',
          ...detailRows.map((r) => `c=${r.concurrency} n`),
          ...detailRows.map((r) => `c=${r.concurrency} ms`),
        ],
        keys.map((k) => [
          k,
          ...detailRows.map((r) => fixed(r.statementsPerSaga[k]?.count ?? 0, 2)),
          ...detailRows.map((r) => fixed(r.statementsPerSaga[k]?.ms ?? 0, 2)),
        ]),
      );
  }
  return (
    'Where the time goes (ELU = event-loop utilisation of the process in the window, library variants only; ' +
    'statements and their time = wall time around each driver call, waiting included, with BENCH_SQL_PROFILE=1 or ' +
    'on SQLite):\n' +
    `${services}${kinds}\n`
  );
}

/** Writes every figure, the options and the machine to a JSON file. */
export function writeResults(
  path: string,
  options: BenchOptions,
  runs: Record<string, VariantRun>,
  extra: Record<string, unknown> = {},
): void {
  const payload = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options,
    notes: [
      'Latency: start of a saga to its terminal state, measured in the process that drives the load.',
      'transactionsPerSaga: pg_stat_database.xact_commit deltas of the variant databases over the window, after ' +
        'forcing every pooled backend to flush its statistics (the flush queries are subtracted).',
      'messagesPerSaga: broker publishes confirmed in the window, counted in-process by each service ' +
        '(the in-process transport of the monolith: messages delivered and committed by their receiver).',
      'transactionsPerSagaInProcess: the library variants count COMMITs and statements run outside a transaction ' +
        '(each is one transaction for the database) with a TypeORM subscriber (afterQuery); for SQLite it is ' +
        'the only count (transactionsPerSaga is null). On PostgreSQL only with BENCH_SQL_PROFILE=1 (null ' +
        'otherwise): the subscriber costs the services CPU that the baseline does not spend.',
      'statementsPerSaga: statements by process and kind per saga, with the wall time TypeORM measures around ' +
        'each driver call (ms per saga; network round trip and lock waits included).',
      'cpuSeconds: /proc/<pid>/stat utime+stime deltas over the window; postgres = backends of the variant ' +
        'databases; rabbitmq = beam.smp; machine = all busy CPU of the host (includes anything else running).',
    ],
    ...extra,
    rows: Object.values(runs).flatMap((r) => r.rows),
    stopped: Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.stopped])),
  };
  writeFileSync(path, `${JSON.stringify(payload, null, 2)}\n`);
}
