/**
 * In-process counters of the library's services, through public extension points only: the transport port
 * (`SagaTransport`, subclassing the two exported adapters) and TypeORM's subscriber API (`afterQuery`).
 */
import type { LoggerService } from '@nestjs/common';
import type { AfterQueryEvent, EntitySubscriberInterface } from 'typeorm';
import { InProcessTransport } from '../../libs/saga/src';
import type { BatchHandler, OutgoingMessage } from '../../libs/saga/src';
import { RabbitMqTransport, type RabbitMqTransportOptions } from '../../libs/saga/src/rabbitmq';
import type { ServiceCounters, StatementStats } from '../lib/control';

export function newSagaCounters(): ServiceCounters & { statements: Record<string, StatementStats> } {
  return { published: 0, consumed: 0, commits: 0, rollbacks: 0, statements: {} };
}

/** Wraps a batch handler so that the messages it acknowledges are counted as consumed. */
function countingHandler(counters: ServiceCounters, handler: BatchHandler): BatchHandler {
  return async (batch) => {
    const dispositions = await handler(batch);
    for (const d of dispositions) if (d.kind === 'ack') counters.consumed++;
    return dispositions;
  };
}

/** The RabbitMQ transport, counting the messages it publishes (confirmed) and the deliveries it acknowledges. */
export class CountingRabbitMqTransport extends RabbitMqTransport {
  constructor(
    options: RabbitMqTransportOptions,
    private readonly counters: ServiceCounters,
  ) {
    super(options);
  }

  override async publish(messages: OutgoingMessage[]): Promise<void> {
    await super.publish(messages);
    this.counters.published += messages.length;
  }

  override consume(
    target: { commandsFor: string } | { repliesFor: string },
    handler: BatchHandler,
  ): Promise<void> {
    return super.consume(target, countingHandler(this.counters, handler));
  }
}

/**
 * The in-process transport, counting likewise (a message is "published" once its receiver committed it). A subclass,
 * so the library still recognises it as in-process (and checks at boot that every command has a handler).
 */
export class CountingInProcessTransport extends InProcessTransport {
  constructor(private readonly counters: ServiceCounters) {
    super();
  }

  override async publish(messages: OutgoingMessage[]): Promise<void> {
    await super.publish(messages);
    this.counters.published += messages.length;
  }

  override consume(
    target: { commandsFor: string } | { repliesFor: string },
    handler: BatchHandler,
  ): Promise<void> {
    return super.consume(target, countingHandler(this.counters, handler));
  }
}

/**
 * A short name for a statement: `BEGIN`, `COMMIT`, `SAVEPOINT`, `INSERT saga_outbox`, `UPDATE saga_outbox SET sent_at`,
 * `SELECT saga_instance WHERE id`… Statements that run outside a transaction are prefixed `(auto)`: each is a
 * transaction of its own for the database.
 */
export function statementKind(sql: string): string {
  const s = sql.trimStart().replace(/"/g, '');
  const head = s.slice(0, 24).toUpperCase();
  if (head.startsWith('START TRANSACTION') || head.startsWith('BEGIN')) return 'BEGIN';
  if (head.startsWith('COMMIT')) return 'COMMIT';
  if (head.startsWith('ROLLBACK TO')) return 'ROLLBACK TO SAVEPOINT';
  if (head.startsWith('ROLLBACK')) return 'ROLLBACK';
  if (head.startsWith('SAVEPOINT')) return 'SAVEPOINT';
  if (head.startsWith('RELEASE')) return 'RELEASE SAVEPOINT';
  let m = /^INSERT\s+INTO\s+([\w.]+)/i.exec(s);
  if (m) return `INSERT ${m[1]}${/ON CONFLICT/i.test(s) ? ' ON CONFLICT' : ''}`;
  m = /^UPDATE\s+([\w.]+)\s+(?:\w+\s+)?SET\s+(\w+)/i.exec(s);
  if (m) return `UPDATE ${m[1]} SET ${m[2]}`;
  m = /^DELETE\s+FROM\s+([\w.]+)/i.exec(s);
  if (m) return `DELETE ${m[1]}`;
  if (/^SELECT/i.test(s)) {
    const from = /\bFROM\s+([\w.]+)/i.exec(s);
    const where = /\bWHERE\s+[(\s]*(?:\w+\.)?(\w+)/i.exec(s);
    return `SELECT ${from ? from[1] : '-'}${where ? ` WHERE ${where[1]}` : ''}`;
  }
  return s.split(/\s+/, 2).join(' ').toUpperCase();
}

/**
 * Counts every statement the DataSource runs (kind, number, summed wall time as TypeORM measures it around the
 * driver call, in ms) and the transactions it commits: COMMITs plus statements run outside a transaction.
 */
export class SqlProfiler implements EntitySubscriberInterface {
  /** Kinds by statement text (the library's statements are a small set of fixed texts): keeps the cost per query low. */
  private readonly kinds = new Map<string, string>();

  constructor(private readonly counters: ReturnType<typeof newSagaCounters>) {}

  afterQuery(event: AfterQueryEvent): void {
    const inTransaction = event.queryRunner?.isTransactionActive ?? false;
    // The library's statements may be `NamedStatement`s (String objects): keyed by their text.
    const text = String(event.query);
    let base = this.kinds.get(text);
    if (base === undefined) {
      base = statementKind(text);
      if (this.kinds.size < 10_000) this.kinds.set(text, base);
    }
    const transactional = inTransaction || base === 'BEGIN' || base === 'COMMIT' || base === 'ROLLBACK';
    const kind = transactional ? base : `(auto) ${base}`;
    const s = (this.counters.statements[kind] ??= { count: 0, ms: 0 });
    s.count++;
    s.ms += event.executionTime ?? 0;
    if (!event.success) return;
    if (base === 'COMMIT' || !transactional) this.counters.commits++;
    else if (base === 'ROLLBACK') this.counters.rollbacks++;
  }
}

/** Nest logs on stderr (stdout carries the control protocol); `log` lines only with BENCH_VERBOSE=1. */
export class StderrLogger implements LoggerService {
  private readonly chatty = process.env.BENCH_VERBOSE === '1';

  log(message: unknown, context?: string): void {
    if (this.chatty) this.write('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest.map(String).join(' '));
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: string, message: unknown, context?: string): void {
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    process.stderr.write(`${level}${context ? ` [${context}]` : ''} ${text}\n`);
  }
}
