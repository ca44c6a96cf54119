import { createInterface } from 'node:readline';
import { runLoad, type LoadOptions } from './load';

/**
 * The line protocol between the runner and a service process (one line each, JSON after the keyword):
 *
 *   service → runner (stdout)             runner → service (stdin)
 *   READY                 after init
 *                                          STATS
 *   STATS {ServiceStats}  ← reply
 *                                          LOAD {LoadOptions}      (driver only)
 *   WARM                  warm-up drained
 *                                          GO
 *   RESULT {LoadResult}   measured window done
 *   ERROR <message>       a command failed
 *   FINAL {ServiceCounters} on SIGTERM, after closing everything
 *
 * Logs go to stderr; stdout carries only protocol lines.
 */

/** Counters a service keeps in-process since it started. */
export interface ServiceCounters {
  /** Broker messages published (and confirmed). */
  published: number;
  /** Broker messages consumed (acked). */
  consumed: number;
  /** Database transactions committed by the service's code. */
  commits: number;
  /** False when the service did not count its commits (`commits` stays 0): the library's, without BENCH_SQL_PROFILE. */
  commitsCounted?: boolean;
  /** Database transactions rolled back by the service's code. */
  rollbacks: number;
  /** Optional: statements run, by kind (e.g. `INSERT saga_outbox`), with their summed wall time in ms. */
  statements?: Record<string, StatementStats>;
}

export interface StatementStats {
  count: number;
  ms: number;
}

export interface ServiceStats extends ServiceCounters {
  /**
   * How many `SELECT pg_stat_force_next_flush()` the service just ran (one per pooled connection, each itself one
   * committed transaction that the runner subtracts), or null when it cannot force the flush: the runner then
   * waits for PostgreSQL's idle flush (~11 s) before reading pg_stat_database.
   */
  pgStatsFlushed: number | null;
  /** Optional: `performance.eventLoopUtilization()` so far (ms idle and active), to see a saturated process. */
  eventLoop?: { idle: number; active: number };
}

export interface ControlHandlers {
  /** Flush this process's PostgreSQL statistics if it can, then return its counters. */
  stats(): Promise<ServiceStats>;
  /** Driver only: start one saga and resolve when it reaches a terminal state in this process. */
  startOne?: () => Promise<void>;
  /** Stop consuming, wait for in-flight work, close channels, connections and pools. */
  shutdown(): Promise<ServiceCounters>;
}

function reply(keyword: string, body?: unknown): void {
  process.stdout.write(body === undefined ? `${keyword}\n` : `${keyword} ${JSON.stringify(body)}\n`);
}

function logError(context: string, err: unknown): void {
  process.stderr.write(`${context}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
}

/** Prints READY and serves the protocol on stdin until SIGTERM/SIGINT or the end of stdin. */
export function serveControl(handlers: ControlHandlers): void {
  let goWaiter: (() => void) | undefined;
  let shuttingDown = false;
  const input = createInterface({ input: process.stdin });

  const shutdown = async (): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    input.close();
    process.stdin.destroy();
    try {
      reply('FINAL', await handlers.shutdown());
      process.exitCode = 0;
    } catch (err) {
      logError('shutdown failed', err);
      process.exitCode = 1;
    }
    // Everything is closed: the process should exit by itself. If a handle leaks, say so and leave anyway.
    setTimeout(() => {
      process.stderr.write('exit forced: a handle was still open after shutdown\n');
      process.exit();
    }, 2000).unref();
  };

  const load = async (options: LoadOptions): Promise<void> => {
    if (!handlers.startOne) throw new Error('this service does not drive load');
    const result = await runLoad({
      ...options,
      startOne: handlers.startOne,
      afterWarmup: () =>
        new Promise<void>((resolve) => {
          goWaiter = resolve;
          reply('WARM');
        }),
    });
    reply('RESULT', result);
  };

  input.on('line', (line) => {
    const [keyword] = line.split(' ', 1);
    const body = line.slice(keyword.length).trim();
    const run = async (): Promise<void> => {
      switch (keyword) {
        case 'STATS':
          return reply('STATS', await handlers.stats());
        case 'LOAD':
          return load(JSON.parse(body) as LoadOptions);
        case 'GO':
          goWaiter?.();
          goWaiter = undefined;
          return;
        default:
          throw new Error(`unknown command: ${line}`);
      }
    };
    run().catch((err: unknown) => {
      logError(keyword, err);
      const message = err instanceof Error ? err.message : String(err);
      process.stdout.write(`ERROR ${keyword}: ${message.replace(/\n/g, ' ')}\n`);
    });
  });
  input.on('close', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
  reply('READY');
}
