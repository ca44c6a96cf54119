import type { Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { ResolvedRabbitMqOptions } from './rabbitmq.options';

export interface ConnectionHooks {
  /** Called when the connection is lost (not on close()). */
  onDisconnect(): void;
  isClosing(): boolean;
}

/** A connection manager that reconnects on its own, and a way to tell why it could not connect. */
export interface ManagedConnection {
  manager: AmqpConnectionManager;
  /** The last connection attempt's error, if the last attempt failed. */
  lastError(): Error | undefined;
}

/**
 * Creates the connection manager and logs its lifecycle. amqp-connection-manager (and so amqplib) is loaded here,
 * so that an application on the in-process transport never loads it.
 */
export async function createConnection(
  options: ResolvedRabbitMqOptions,
  logger: Logger,
  hooks: ConnectionHooks,
): Promise<ManagedConnection> {
  const { connect } = await import('amqp-connection-manager');
  const manager = connect(options.urls, {
    heartbeatIntervalInSeconds: options.heartbeatSeconds,
    reconnectTimeInSeconds: options.reconnectDelayMs / 1000,
    // noDelay sets TCP_NODELAY: with Nagle's algorithm each confirm and ack can wait ~40 ms for a delayed ACK.
    connectionOptions: { noDelay: true, clientProperties: { connection_name: options.connectionName } },
  });
  let lastError: Error | undefined;
  const every = `retrying every ${options.reconnectDelayMs} ms`;
  manager.on('connect', ({ connection, url }) => {
    lastError = undefined;
    coalesceWrites(connection);
    logger.log(`Connected to RabbitMQ at ${typeof url === 'string' ? redact(url) : String(url.hostname)}`);
  });
  manager.on('disconnect', ({ err }) => {
    hooks.onDisconnect();
    const reason = err instanceof Error ? err.message : 'connection closed';
    logger.warn(`Disconnected from RabbitMQ: ${reason}; ${every}`);
  });
  manager.on('connectFailed', ({ err }) => {
    // One line per outage, not one per attempt.
    if (!lastError && !hooks.isClosing()) logger.warn(`Cannot connect to RabbitMQ: ${err.message}; ${every}`);
    lastError = err;
  });
  manager.on('blocked', ({ reason }) => logger.warn(`RabbitMQ blocked the connection: ${reason}`));
  manager.on('unblocked', () => logger.log('RabbitMQ unblocked the connection'));
  return { manager, lastError: () => lastError };
}

/**
 * amqplib writes each frame group (a publish, an ack) to the socket with its own `write` — one system call each —
 * from a multiplexer that drains the channels' buffers once per event-loop turn. Corking the socket around that
 * drain sends what a turn produced (a relay batch's publishes, a batch's ack) in one `writev`: at 64 sagas in flight
 * that was ~8 % of a service's busy time. Bytes and order are unchanged. Reaches into amqplib's `Connection`
 * (`muxer`, `stream`); if a later amqplib has neither, nothing is changed.
 */
function coalesceWrites(model: unknown): void {
  const connection = (model as { connection?: unknown } | undefined)?.connection ?? model;
  const muxer = (connection as { muxer?: { _readIncoming?: unknown; out?: unknown } } | undefined)?.muxer;
  const out = muxer?.out as { cork?: unknown; uncork?: unknown } | undefined;
  const drain = muxer?._readIncoming;
  if (
    !muxer ||
    typeof drain !== 'function' ||
    typeof out?.cork !== 'function' ||
    typeof out.uncork !== 'function'
  ) {
    return;
  }
  const socket = out as { cork(): void; uncork(): void };
  muxer._readIncoming = function corkedReadIncoming(this: unknown) {
    socket.cork();
    try {
      (drain as () => void).call(this);
    } finally {
      socket.uncork();
    }
  };
}

/** The parts of amqplib's `Connection` and its muxer that `writeFramesNow` uses. */
interface FrameQueues {
  muxer?: { newStreams?: unknown[]; _readIncoming?: () => void };
  channels?: ({ buffer?: { readableLength?: number } } | null | undefined)[];
}

/**
 * Writes the frames `channel` has buffered (e.g. the publishes just made) to the socket now, instead of in the
 * muxer's next check phase (`setImmediate`, after amqplib's stream emits `readable` on the next tick). Until then,
 * whatever else the turn runs — the continuation of the caller's commit, releasing its connection, acking — delays
 * the message on its way to the broker: ~50 µs per publish at one saga in flight (`bench/timeline.ts`). What the
 * turn adds later still goes out in the check phase as before. Reaches into amqplib's `Connection` like
 * `coalesceWrites`; does nothing if a later amqplib has another shape, or if the socket is applying backpressure.
 */
export function writeFramesNow(channel: unknown): void {
  const { ch, connection } = (channel ?? {}) as { ch?: unknown; connection?: FrameQueues };
  const muxer = connection?.muxer;
  const buffer = typeof ch === 'number' ? connection?.channels?.[ch]?.buffer : undefined;
  if (!muxer || !Array.isArray(muxer.newStreams) || typeof muxer._readIncoming !== 'function') return;
  if (!buffer || !buffer.readableLength) return;
  // The muxer reads the streams it was told are readable; this one is told on the next tick (then finds it empty).
  if (!muxer.newStreams.includes(buffer)) muxer.newStreams.push(buffer);
  muxer._readIncoming();
}

/** Rejects with `Error(what)` if `promise` does not settle within `ms`; the timer never outlives it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for logs and errors. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
