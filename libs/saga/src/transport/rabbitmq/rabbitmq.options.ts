import { SagaError } from '../../errors/saga.errors';

/**
 * Names of the exchanges and queues the RabbitMQ transport uses. Every name defaults to one derived from
 * `prefix` (shown here for the default prefix `saga`); override any of them to fit an existing broker layout.
 */
export interface RabbitMqTopologyNames {
  /** Direct exchange for commands, routed by participant name. Default `saga.commands`. */
  commandsExchange: string;
  /** Direct exchange for replies, routed by the coordinating service's name. Default `saga.replies`. */
  repliesExchange: string;
  /** Direct exchange for rejected messages, routed by the name of the queue they came from. Default `saga.dlx`. */
  deadLetterExchange: string;
  /** Command queue of a participant. Default `saga.<participant>.commands`. */
  commandQueue: (participant: string) => string;
  /** Reply queue of a coordinating service. Default `saga.<service>.replies`. */
  replyQueue: (service: string) => string;
  /** Dead-letter queue of a work queue. Default `<queue>.dlq`. */
  deadLetterQueue: (queue: string) => string;
}

/** Options of `rabbitMqTransport()`. Only `url` is required. */
export interface RabbitMqTransportOptions {
  /**
   * Broker URL, e.g. `amqp://user:pass@rabbitmq:5672/vhost`. Several URLs: the transport tries them in turn
   * when it (re)connects.
   */
  url: string | string[];
  /** Prefix of every derived exchange and queue name. Default `saga`. */
  prefix?: string;
  /** Overrides of individual exchange and queue names. Default: derived from `prefix`. */
  names?: Partial<RabbitMqTopologyNames>;
  /**
   * Type of the work queues and their dead-letter queues. `quorum` replicates them across a cluster. Changing it
   * for existing queues fails the declaration (RabbitMQ cannot convert a queue): delete them first. Note that
   * RabbitMQ 4 gives quorum queues a delivery limit (20): a message retried more often is dead-lettered by the
   * broker, with `x-death` but without the transport's reason header. Default `classic`.
   */
  queueType?: 'classic' | 'quorum';
  /**
   * Unacknowledged messages per consumer: the largest batch a handler receives, and the bound on memory.
   * Default 64.
   */
  prefetch?: number;
  /**
   * Batches of one queue handled at once (each in its own transaction). More overlaps the database round trips of
   * several batches; a batch starts beside a running one only when at least 8 messages (or prefetch / concurrency)
   * wait for it. On the 2-core benchmark machine 2 kept the CPUs busier but cost as much more CPU per saga (more
   * commits): 1 is the default.
   */
  concurrency?: number;
  /** Larger message bodies are refused by `publish` with `MessageTooLargeError`. Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * How long a message with a `retry` disposition (or from a batch whose handler threw) stays unacknowledged
   * before it is requeued, so that a failing database is not hammered in a tight loop. Default 250 ms.
   */
  retryDelayMs?: number;
  /** `connect()` fails with `TransportError` if the broker cannot be reached within this time. Default 10 s. */
  connectTimeoutMs?: number;
  /** `publish()` fails if the broker has not confirmed the whole batch within this time. Default 30 s. */
  publishTimeoutMs?: number;
  /**
   * How long `close()` waits for in-flight batches. Past it, the channels are closed anyway and the broker requeues
   * the unacknowledged messages. Default 10 s.
   */
  closeTimeoutMs?: number;
  /** Delay between reconnection attempts after the connection is lost. Default 1 s. */
  reconnectDelayMs?: number;
  /** AMQP heartbeat interval: a dead peer is noticed within about twice this. Default 5 s. */
  heartbeatSeconds?: number;
  /** Connection name shown in the RabbitMQ management UI and `rabbitmqctl list_connections`. Default `nestjs-saga`. */
  connectionName?: string;
}

/** The options with every default applied. */
export interface ResolvedRabbitMqOptions {
  urls: string[];
  names: RabbitMqTopologyNames;
  queueType: 'classic' | 'quorum';
  prefetch: number;
  concurrency: number;
  maxMessageBytes: number;
  retryDelayMs: number;
  connectTimeoutMs: number;
  publishTimeoutMs: number;
  closeTimeoutMs: number;
  reconnectDelayMs: number;
  heartbeatSeconds: number;
  connectionName: string;
}

export const RABBITMQ_DEFAULTS = {
  prefix: 'saga',
  queueType: 'classic',
  prefetch: 64,
  concurrency: 1,
  maxMessageBytes: 1024 * 1024,
  retryDelayMs: 250,
  connectTimeoutMs: 10_000,
  publishTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  reconnectDelayMs: 1_000,
  heartbeatSeconds: 5,
  connectionName: 'nestjs-saga',
} as const;

/** The default names for `prefix`. */
export function defaultTopologyNames(prefix: string): RabbitMqTopologyNames {
  return {
    commandsExchange: `${prefix}.commands`,
    repliesExchange: `${prefix}.replies`,
    deadLetterExchange: `${prefix}.dlx`,
    commandQueue: (participant) => `${prefix}.${participant}.commands`,
    replyQueue: (service) => `${prefix}.${service}.replies`,
    deadLetterQueue: (queue) => `${queue}.dlq`,
  };
}

export function resolveRabbitMqOptions(options: RabbitMqTransportOptions): ResolvedRabbitMqOptions {
  const d = RABBITMQ_DEFAULTS;
  const urls = Array.isArray(options.url) ? options.url : [options.url];
  if (urls.length === 0 || urls.some((u) => !u)) {
    throw new SagaError(`rabbitMqTransport: 'url' is required, e.g. 'amqp://guest:guest@localhost:5672'.`);
  }
  const prefetch = options.prefetch ?? d.prefetch;
  if (!Number.isInteger(prefetch) || prefetch < 1) {
    throw new SagaError(`rabbitMqTransport: 'prefetch' must be a positive integer, got ${prefetch}.`);
  }
  const concurrency = options.concurrency ?? d.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SagaError(`rabbitMqTransport: 'concurrency' must be a positive integer, got ${concurrency}.`);
  }
  return {
    urls,
    concurrency,
    names: { ...defaultTopologyNames(options.prefix ?? d.prefix), ...options.names },
    queueType: options.queueType ?? d.queueType,
    prefetch,
    maxMessageBytes: options.maxMessageBytes ?? d.maxMessageBytes,
    retryDelayMs: options.retryDelayMs ?? d.retryDelayMs,
    connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
    publishTimeoutMs: options.publishTimeoutMs ?? d.publishTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? d.closeTimeoutMs,
    reconnectDelayMs: options.reconnectDelayMs ?? d.reconnectDelayMs,
    heartbeatSeconds: options.heartbeatSeconds ?? d.heartbeatSeconds,
    connectionName: options.connectionName ?? d.connectionName,
  };
}
