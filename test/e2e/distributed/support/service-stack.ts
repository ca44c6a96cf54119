import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  type RunningService,
  startService,
  stopService,
  waitHealthy,
} from '../../../../scripts/lib/services';
import { AMQP_URL, RawBroker } from '../../../rabbitmq/rabbitmq.helpers';
import { ensurePgDatabase, PG_URL } from '../../../support/databases';
import { ensureServicesBuilt, mainJs, SERVICE_APPS, type ServiceApp } from './build';

/** The participants and the coordinating service of the sample shop, as they name their queues. */
const PARTICIPANTS = ['payment', 'shipping'];
const COORDINATORS = ['order'];

/** Every service process started by any stack, killed if the test process exits without stopping them. */
const spawned = new Set<RunningService>();
process.once('exit', () => {
  for (const s of spawned) if (s.process.exitCode === null) s.process.kill('SIGKILL');
});

/**
 * The order, payment and shipping services as real Node processes (the compiled apps in dist/), each on its
 * own fresh PostgreSQL database, on the local RabbitMQ under a queue prefix of their own. One per spec file:
 * `up()` in `beforeAll`, `down()` in `afterAll` (it stops the processes and deletes the databases, queues and
 * exchanges even when a test failed). Missing RabbitMQ or PostgreSQL makes `up()` throw: the specs fail,
 * they never skip.
 */
export class ServiceStack {
  /** Unique per stack: names the queue prefix and the databases. */
  readonly tag = randomUUID().slice(0, 8);
  /** `SAGA_QUEUE_PREFIX` of the services. */
  readonly prefix = `e2e-${this.tag}`;
  /** Where the services' output is written by `down()`. */
  readonly logDir = join(tmpdir(), 'nestjs-saga-e2e', this.prefix);
  /** Reply services besides `order` whose queues `down()` deletes too (test probes). */
  readonly extraReplyServices: string[] = [];
  private readonly databases = new Map<ServiceApp, string>();
  private readonly ports = new Map<ServiceApp, number>();
  private readonly baseEnv = new Map<ServiceApp, Record<string, string>>();
  private readonly running = new Map<ServiceApp, RunningService>();
  /** Every process started, restarts included, for the logs. */
  private readonly history: RunningService[] = [];
  private readonly clients = new Map<ServiceApp, Client>();
  private rawBroker?: RawBroker;
  /** Set by `down()`: an `up()` or `start()` still under way (a timed-out beforeAll) starts nothing more. */
  private closing = false;

  constructor(private readonly suite: string) {}

  /** A plain amqplib connection to the same broker (publish raw messages, read queues, clean up). */
  get broker(): RawBroker {
    if (!this.rawBroker) throw new Error('ServiceStack.up() has not connected to RabbitMQ');
    return this.rawBroker;
  }

  databaseName(app: ServiceApp): string {
    return `e2e_${this.suite}_${this.tag}_${app}`;
  }

  /**
   * Checks RabbitMQ and PostgreSQL, builds the services if needed, re-creates their databases and starts
   * them; resolves once all answer `GET /health`. `env` adds variables for some services.
   */
  async up(env: Partial<Record<ServiceApp, Record<string, string>>> = {}): Promise<void> {
    const broker = await RawBroker.open(); // throws a clear error when RabbitMQ is down
    if (this.closing) {
      await broker.close();
      this.assertOpen();
    }
    this.rawBroker = broker;
    for (const app of SERVICE_APPS) {
      this.assertOpen();
      this.databases.set(app, await ensurePgDatabase(this.databaseName(app))); // throws when PostgreSQL is down
    }
    this.assertOpen();
    await ensureServicesBuilt();
    for (const app of SERVICE_APPS) this.ports.set(app, await freePort());
    for (const app of SERVICE_APPS) {
      this.baseEnv.set(app, {
        SERVICE_NAME: app,
        DATABASE_URL: this.databases.get(app)!,
        AMQP_URL,
        SAGA_QUEUE_PREFIX: this.prefix,
      });
    }
    await Promise.all(SERVICE_APPS.map((app) => this.start(app, env[app])));
  }

  /** Starts one service (again, after `stop`/a crash) with its base environment plus `env`. */
  async start(app: ServiceApp, env: Record<string, string> = {}): Promise<RunningService> {
    this.assertOpen();
    if (this.isRunning(app)) throw new Error(`${app} is already running`);
    const service = startService(app, mainJs(app), this.port(app), { ...this.baseEnv.get(app), ...env });
    spawned.add(service);
    this.history.push(service);
    this.running.set(app, service);
    try {
      await waitHealthy(service, 60_000);
    } catch (error) {
      throw new Error(`${String(error)}\n${this.tail(service)}`, { cause: error });
    }
    return service;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
  async stop(app: ServiceApp, timeoutMs = 5_000): Promise<void> {
    const service = this.running.get(app);
    if (service) await stopService(service, timeoutMs);
  }

  service(app: ServiceApp): RunningService {
    const service = this.running.get(app);
    if (!service) throw new Error(`${app} was never started`);
    return service;
  }

  isRunning(app: ServiceApp): boolean {
    const p = this.running.get(app)?.process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Resolves with how the service's current process ended; rejects after `timeoutMs`. */
  async exited(app: ServiceApp, timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
    const child = this.service(app).process;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${app} still runs after ${timeoutMs} ms`)),
          timeoutMs,
        );
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { code: child.exitCode, signal: child.signalCode };
  }

  port(app: ServiceApp): number {
    const port = this.ports.get(app);
    if (port === undefined) throw new Error('ServiceStack.up() has not run');
    return port;
  }

  url(app: ServiceApp): string {
    return `http://127.0.0.1:${this.port(app)}`;
  }

  /** Runs SQL on a service's database (one connection per database, closed by `down()`). */
  async query<T extends Record<string, unknown>>(
    app: ServiceApp,
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    let client = this.clients.get(app);
    if (!client) {
      const url = this.databases.get(app);
      if (!url) throw new Error(`no database for ${app}: ServiceStack.up() has not run`);
      client = new Client({ connectionString: url });
      this.clients.set(app, client);
      await client.connect();
    }
    return (await client.query<T>(sql, params)).rows;
  }

  /** The last lines a service printed, for error messages. */
  tail(service: RunningService, lines = 60): string {
    return [`--- last output of ${service.name} ---`, ...service.output.slice(-lines)].join('\n');
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL), writes their output to `logDir`, deletes the queues and
   * exchanges under the prefix and drops the databases. Tries every part even if one fails.
   */
  async down(): Promise<void> {
    this.closing = true;
    const problems: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        problems.push(error);
      }
    };
    await Promise.all([...this.running.values()].map((s) => attempt(() => stopService(s, 5_000))));
    for (const s of this.history) spawned.delete(s);
    await attempt(async () => this.writeLogs());
    for (const client of this.clients.values()) await attempt(() => client.end());
    if (this.rawBroker) {
      const broker = this.rawBroker;
      await attempt(() =>
        broker.deleteTopology(this.prefix, PARTICIPANTS, [...COORDINATORS, ...this.extraReplyServices]),
      );
      await attempt(() => broker.close());
    }
    await attempt(() => dropDatabases([...this.databases.keys()].map((app) => this.databaseName(app))));
    if (problems.length > 0) throw new AggregateError(problems, 'ServiceStack.down() failed in part');
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('ServiceStack.down() was called: not starting anything more');
  }

  private writeLogs(): void {
    if (this.history.length === 0) return;
    mkdirSync(this.logDir, { recursive: true });
    this.history.forEach((s, i) =>
      writeFileSync(join(this.logDir, `${i + 1}-${s.name}.log`), s.output.join('\n') + '\n'),
    );
  }
}

async function dropDatabases(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const client = new Client({ connectionString: `${PG_URL}/postgres` });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
