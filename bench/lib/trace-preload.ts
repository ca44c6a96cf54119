/**
 * A timeline of one process's I/O, for `bench/timeline.ts`: loaded into every service with
 * `BENCH_NODE_ARGS="--require ./dist/bench/bench/lib/trace-preload.js"`, it records a monotonic timestamp (the same
 * clock in every process of the machine) for each pg query sent and answered, each amqplib publish, delivery, ack,
 * confirm and socket flush (the muxer's write), and around a few library-independent calls (payload validation,
 * TypeORM's QueryRunner lifecycle). Written to `$BENCH_TRACE_DIR` (default `/tmp/bench-trace`) when the process
 * exits. It patches prototypes of the installed packages: a diagnostic, never loaded otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

type Event = [bigint, string, string];

const events: Event[] = [];
const now = (): bigint => process.hrtime.bigint();
const dir = process.env.BENCH_TRACE_DIR ?? '/tmp/bench-trace';
const role = process.env.BENCH_ROLE ?? basename(process.argv[1] ?? 'node', '.js');
const variant = (process.argv[1] ?? '').includes('/baseline/') ? 'baseline' : 'library';

type Fn = (...args: unknown[]) => unknown;
type Proto = Record<string, Fn>;

/** The service's own copy of an installed package's module, or undefined (then its events are not traced). */
const requireFromService = createRequire(join(process.cwd(), 'package.json'));
function load(id: string): Record<string, unknown> | undefined {
  try {
    return requireFromService(id) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * A file of an installed package by its path inside the package, also where the package's `exports` map does not
 * list it (amqplib's does not list `lib/`): required by absolute path, next to the package's main module.
 */
function loadFile(pkg: string, file: string): Record<string, unknown> | undefined {
  try {
    const main = requireFromService.resolve(pkg);
    const root = main.slice(0, main.lastIndexOf(`/node_modules/${pkg}/`) + `/node_modules/${pkg}/`.length);
    return requireFromService(join(root, file)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function protoOf(module: Record<string, unknown> | undefined, name: string): Proto | undefined {
  const cls = module?.[name] as { prototype?: Proto } | undefined;
  return cls?.prototype;
}

/** Records `kind` with `label(args)` before calling the original. */
function before(
  proto: Proto | undefined,
  method: string,
  kind: string,
  label: (args: unknown[]) => string,
): void {
  const original = proto?.[method];
  if (!proto || typeof original !== 'function') return;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    events.push([now(), kind, label(args)]);
    return original.apply(this, args);
  };
}

/** Records `f>` before and `f<` once the call (or its promise) has settled. */
function around(proto: Proto | undefined, method: string, label: string): void {
  const original = proto?.[method];
  if (!proto || typeof original !== 'function') return;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    events.push([now(), 'f>', label]);
    const result = original.apply(this, args);
    const done = (): number => events.push([now(), 'f<', label]);
    if (result instanceof Promise) result.then(done, done);
    else done();
    return result;
  };
}

const sqlLabel = (config: unknown): string => {
  const text = typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text;
  return (typeof text === 'string' ? text : '?').replace(/\s+/g, ' ').slice(0, 40);
};

// pg: a query sent, and answered (its promise or callback).
const pgClient = protoOf(load('pg'), 'Client');
const pgQuery = pgClient?.query;
if (pgClient && pgQuery) {
  pgClient.query = function (this: unknown, config: unknown, values?: unknown, callback?: unknown) {
    const label = sqlLabel(config);
    events.push([now(), 'pgq', label]);
    const answered = (): number => events.push([now(), 'pgr', label]);
    const result = pgQuery.call(this, config, values, callback);
    if (result instanceof Promise) result.then(answered, answered);
    return result;
  };
}

// amqplib: publish (frames buffered), delivery, ack, confirm, and the muxer's socket write.
const channel = loadFile('amqplib', 'lib/channel.js');
const channelProto = protoOf(channel, 'Channel');
before(channelProto, 'sendMessage', 'pub', ([fields]) =>
  String((fields as { routingKey?: string }).routingKey),
);
before(protoOf(channel, 'BaseChannel'), 'dispatchMessage', 'dlv', ([fields]) =>
  String((fields as { routingKey?: string }).routingKey),
);
before(protoOf(loadFile('amqplib', 'lib/channel_model.js'), 'Channel'), 'ack', 'ack', () => '');
before(channelProto, 'handleConfirm', 'cnf', () => '');
before(protoOf(loadFile('amqplib', 'lib/mux.js'), 'Mux'), '_readIncoming', 'mux', () => '');

// Calls between a delivery and the first statement.
around(protoOf(load('class-validator'), 'Validator'), 'validate', 'validate');
around(protoOf(load('class-transformer'), 'ClassTransformer'), 'plainToInstance', 'plainToInstance');
const runner = protoOf(load('typeorm/driver/postgres/PostgresQueryRunner.js'), 'PostgresQueryRunner');
for (const method of ['connect', 'startTransaction', 'commitTransaction', 'release'])
  around(runner, method, `qr.${method}`);
around(
  protoOf(load('typeorm/data-source/DataSource.js'), 'DataSource'),
  'createQueryRunner',
  'createQueryRunner',
);

process.on('exit', () => {
  if (events.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const rows = events.map(([t, kind, label]) => [t.toString(), kind, label]);
  writeFileSync(join(dir, `${variant}-${role}-${process.pid}.json`), JSON.stringify(rows));
});
