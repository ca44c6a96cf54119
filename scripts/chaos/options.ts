/** The chaos runner's parameters: command-line flags, with environment variables for the infrastructure. */
export interface ChaosOptions {
  /** Orders to place (`--orders`, default 500). */
  orders: number;
  /** Most `POST /orders` requests in flight at once (`--concurrency`, default 24). */
  concurrency: number;
  /** Seconds over which orders are placed and faults injected (`--duration`; default orders / 10, 15 to 120). */
  durationMs: number;
  /** SIGKILLs in all, dealt over the processes so that each is killed if there are enough (`--kills`, default 14). */
  kills: number;
  /** Graceful restarts (SIGTERM, then start again), as in a rolling deploy (`--restarts`, default 4). */
  restarts: number;
  /**
   * Processes of payment and of shipping each (`--participant-replicas`, default 2): competing consumers on the same
   * command queue and one database, as two pods of a deployment. The order service always runs twice.
   */
  participantReplicas: number;
  /** `rabbitmqctl close_all_connections` (`--broker-drops`, default 3). */
  brokerDrops: number;
  /** `pg_terminate_backend` of every session of the chaos databases (`--db-drops`, default 3). */
  dbDrops: number;
  /** How long to wait, once the faults stop, for every saga to finish (`--settle-timeout`, s, default 120). */
  settleTimeoutMs: number;
  /** Share of accepted orders posted a second time with the same key, to check idempotence (`--resubmit`, 0.05). */
  resubmitRate: number;
  /** Seed of the order mix, the amounts and the fault schedule (`--seed`, default random; printed). */
  seed: number;
  /**
   * Names everything the run owns (`--tag`, default `chaos`): the databases `<tag>_order`, `<tag>_payment`,
   * `<tag>_shipping`, the RabbitMQ virtual host `<tag>` and the queue prefix `<tag>`.
   */
  tag: string;
  /**
   * First HTTP port (`--base-port`, default 3201): order-1, order-2, payment-1…, shipping-1… on consecutive ports;
   * 0: any free ports.
   */
  basePort: number;
  /** Print every service's log lines as they come (`--verbose`). */
  verbose: boolean;
  /** `PG_ADMIN_URL`: a database on the server that is not a chaos database (default `postgres`). */
  pgAdminUrl: string;
  /** `AMQP_URL`: the broker; the run uses its own virtual host on it. */
  amqpUrl: string;
}

const USAGE = `usage: node dist/scripts/scripts/chaos/chaos.js [--orders N] [--concurrency N] [--duration S]
  [--kills N] [--restarts N] [--broker-drops N] [--db-drops N] [--settle-timeout S] [--resubmit RATE] [--seed N]
  [--participant-replicas N] [--tag NAME] [--base-port PORT] [--verbose]
environment: PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
  AMQP_URL (default amqp://guest:guest@127.0.0.1:5672)`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): ChaosOptions {
  const flags = new Map<string, string>();
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') throw new UsageError(USAGE);
    if (arg === '--verbose') {
      verbose = true;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new UsageError(`unexpected argument '${arg}'\n${USAGE}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${match[1]} needs a value\n${USAGE}`);
    flags.set(match[1], value);
  }
  const known = [
    'orders',
    'concurrency',
    'duration',
    'kills',
    'restarts',
    'participant-replicas',
    'broker-drops',
    'db-drops',
    'settle-timeout',
    'resubmit',
    'seed',
    'tag',
    'base-port',
  ];
  for (const name of flags.keys()) {
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}\n${USAGE}`);
  }
  const int = (name: string, fallback: number, min: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new UsageError(`--${name} must be an integer >= ${min}, got '${raw}'`);
    }
    return value;
  };
  const orders = int('orders', 500, 1);
  const tag = flags.get('tag') ?? 'chaos';
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(tag)) {
    throw new UsageError(`--tag must be lower-case letters, digits and '_' (a database name prefix)`);
  }
  const resubmit = Number(flags.get('resubmit') ?? 0.05);
  if (!(resubmit >= 0 && resubmit <= 1)) throw new UsageError(`--resubmit must be between 0 and 1`);
  const defaultDuration = Math.min(120, Math.max(15, Math.round(orders / 10)));
  return {
    orders,
    concurrency: int('concurrency', 24, 1),
    durationMs: int('duration', defaultDuration, 1) * 1000,
    kills: int('kills', 14, 0),
    restarts: int('restarts', 4, 0),
    participantReplicas: int('participant-replicas', 2, 1),
    brokerDrops: int('broker-drops', 3, 0),
    dbDrops: int('db-drops', 3, 0),
    settleTimeoutMs: int('settle-timeout', 120, 1) * 1000,
    resubmitRate: resubmit,
    seed: int('seed', Math.floor(Math.random() * 2 ** 31), 0),
    tag,
    basePort: int('base-port', 3201, 0),
    verbose,
    pgAdminUrl: env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  };
}

/** A bad command line: printed without a stack trace. */
export class UsageError extends Error {}
