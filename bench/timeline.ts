/**
 * Where one saga's time goes at concurrency 1, hop by hop, across the three processes: reads the events written by
 * `lib/trace-preload.ts` and prints the median time between consecutive events of the sagas that took the most
 * common path (background work — relay marks, sweeps, timers, statistics — left out), with the running total;
 * then every measured saga cut at its hops (publish → delivery → first statement → publish …), median per hop.
 *
 *   npx nest build -p bench/tsconfig.json
 *   BENCH_NODE_ARGS="--require ./dist/bench/bench/lib/trace-preload.js" \
 *     node dist/bench/bench/run.js --variants baseline,saga --concurrency 1 --count 600 --growth 0
 *   node dist/bench/bench/timeline.js [library|baseline] [dir]
 *
 * Each line: median µs from this event to the next one, running total, process (o/p/s), event, label. Events:
 * pgq/pgr a pg query sent/answered, pub an amqplib publish (frames buffered), dlv a delivery, f>/f< around
 * validation and TypeORM's QueryRunner calls (the library's services only). The trace also holds acks, confirms and
 * amqplib's socket writes (`mux`), left out here: they interleave with the other processes' events at random.
 *
 * Below the path, every moment of a saga's life (first event to the next saga's first) is put in one of three
 * places, by the event that ends it: waiting for PostgreSQL (it ends with an answer to a query the process had
 * sent), the broker (it ends with a delivery: publish, routing and the receiver's socket read), or JavaScript in
 * the process whose event ends it (everything else: parsing, validation, TypeORM, the library, the handlers, and a
 * process's own wait for the CPU). Medians per saga over all measured sagas, not only those on the common path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Event = { t: bigint; proc: string; kind: string; label: string };

/** Statements and calls outside a saga's critical path. */
const BACKGROUND =
  /SET LOCAL|claimed_until|due_at|pg_stat|pg_class|xact_commit|information_schema|FROM "?saga_outbox"? WHERE|DELETE FROM/;
/** The first statement of a saga, in the order process: a new order row. */
const SAGA_START = /^\s*INSERT INTO "?(lean_)?orders"?/;

function load(dir: string, variant: string): Event[] {
  const events: Event[] = [];
  for (const file of readdirSync(dir)) {
    const m = /^(library|baseline)-([a-z]+)-\d+\.json$/.exec(file);
    if (!m || m[1] !== variant) continue;
    const rows = JSON.parse(readFileSync(join(dir, file), 'utf8')) as [string, string, string][];
    for (const [t, kind, label] of rows) events.push({ t: BigInt(t), proc: m[2][0], kind, label });
  }
  return events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Per saga: µs waiting for PostgreSQL, in the broker, and running JavaScript in each process (see above). */
function whereTimeGoes(sagas: Event[][]): string[] {
  const processes = ['o', 'p', 's'];
  const totals: Record<string, number[]> = { all: [], pg: [], broker: [], js: [] };
  for (const p of processes) totals[`js ${p}`] = [];
  for (const saga of sagas) {
    const spent: Record<string, number> = { pg: 0, broker: 0, js: 0 };
    for (const p of processes) spent[`js ${p}`] = 0;
    const waiting: Record<string, number> = {};
    for (let i = 0; i < saga.length - 1; i++) {
      const [a, b] = [saga[i], saga[i + 1]];
      if (a.kind === 'pgq') waiting[a.proc] = (waiting[a.proc] ?? 0) + 1;
      // The answers to a query sent before the saga's first event arrive first: never below zero.
      if (a.kind === 'pgr') waiting[a.proc] = Math.max(0, (waiting[a.proc] ?? 0) - 1);
      const gap = Number(b.t - a.t) / 1e3;
      if (b.kind === 'pgr' && (waiting[b.proc] ?? 0) > 0) spent.pg += gap;
      else if (b.kind === 'dlv') spent.broker += gap;
      else {
        spent.js += gap;
        spent[`js ${b.proc}`] = (spent[`js ${b.proc}`] ?? 0) + gap;
      }
    }
    totals.all.push(spent.pg + spent.broker + spent.js);
    for (const key of Object.keys(spent)) totals[key]?.push(spent[key]);
  }
  const names: Record<string, string> = {
    all: "a saga, first event to the next saga's",
    pg: 'waiting for PostgreSQL',
    broker: 'in the broker (publish to delivery)',
    js: 'JavaScript, all processes',
    'js o': '  order (coordinator)',
    'js p': '  payment',
    'js s': '  shipping',
  };
  return [
    `where a saga's time goes (median µs per saga over ${sagas.length} sagas):`,
    ...Object.keys(names).map((key) => `${median(totals[key]).toFixed(0).padStart(7)}  ${names[key]}`),
  ];
}

/**
 * The saga cut at its hops, for every measured saga (not only those on the most common path, whose per-event
 * medians can mislead when few sagas take it): start → first publish, then per message publish → delivery (the
 * broker), delivery → the receiver's first statement (dispatch, validation, transaction start), first statement →
 * its publish (the transaction and what follows its COMMIT), and from the last of those to the saga's last event
 * (before the next saga's first). Medians per segment, in µs, numbered in the order they happen; a saga whose path
 * differs adds segments of its own (their n tells how many).
 */
function hops(sagas: Event[][]): string[] {
  const segments = new Map<string, number[]>();
  for (const saga of sagas) {
    let previous = saga[0];
    let after = 'start';
    let n = 0;
    const add = (name: string, end: Event): void => {
      const key = `${String(n++).padStart(2)} ${name}`;
      if (!segments.has(key)) segments.set(key, []);
      segments.get(key)!.push(Number(end.t - previous.t) / 1e3);
      previous = end;
    };
    for (const e of saga.slice(1)) {
      if (e.kind === 'pub') {
        add(`${after} → publish (${e.proc})`, e);
        after = 'publish';
      } else if (e.kind === 'dlv') {
        add(`publish → delivery (${e.proc})`, e);
        after = 'delivery';
      } else if (e.kind === 'pgq' && after === 'delivery') {
        add(`delivery → first statement (${e.proc})`, e);
        after = 'first statement';
      }
    }
    add(`${after} → the saga's last event`, saga[saga.length - 1]);
  }
  return [
    `hop by hop (median µs over the ${sagas.length} measured sagas, n = sagas with that segment):`,
    ...[...segments].map(
      ([key, values]) => `${median(values).toFixed(0).padStart(7)}  ${key}  (n=${values.length})`,
    ),
  ];
}

function main(): void {
  const variant = process.argv[2] ?? 'library';
  const dir = process.argv[3] ?? process.env.BENCH_TRACE_DIR ?? '/tmp/bench-trace';
  const events = load(dir, variant).filter(
    // Confirms, acks and socket writes interleave with the other processes' events at random: left out of the path.
    (e) => e.kind !== 'cnf' && e.kind !== 'ack' && e.kind !== 'mux' && !BACKGROUND.test(e.label),
  );
  const starts = events.flatMap((e, i) =>
    e.proc === 'o' && e.kind === 'pgq' && SAGA_START.test(e.label) ? [i] : [],
  );
  if (starts.length < 10) throw new Error(`${variant}: fewer than 10 sagas traced in ${dir}`);
  const sagas = starts.slice(1).map((end, i) => events.slice(starts[i], end));
  // The sagas of the warm-up are left out, then those whose path differs from the most common one.
  const measured = sagas.slice(Math.floor(sagas.length / 5));
  const shapeOf = (saga: Event[]): string => saga.map((e) => `${e.proc} ${e.kind} ${e.label}`).join('\n');
  const counts = new Map<string, number>();
  for (const saga of measured) counts.set(shapeOf(saga), (counts.get(shapeOf(saga)) ?? 0) + 1);
  const [shape, count] = [...counts].sort((a, b) => b[1] - a[1])[0];
  const same = measured.filter((saga) => shapeOf(saga) === shape);
  const steps = same[0].length;
  const totals = same.map((saga) => Number(saga[steps - 1].t - saga[0].t) / 1e3);
  const lines = [
    `${variant}: ${sagas.length} sagas, ${count} on the most common path (${steps} events); ` +
      `median from first to last event ${median(totals).toFixed(0)} µs`,
  ];
  let total = 0;
  for (let i = 0; i < steps - 1; i++) {
    const gap = median(same.map((saga) => Number(saga[i + 1].t - saga[i].t) / 1e3));
    total += gap;
    const e = same[0][i];
    lines.push(
      `${gap.toFixed(0).padStart(7)} ${total.toFixed(0).padStart(7)}  ${e.proc} ${e.kind.padEnd(3)} ${e.label}`,
    );
  }
  lines.push('', ...hops(measured), '', ...whereTimeGoes(measured));
  process.stdout.on('error', () => undefined); // piped into head
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
