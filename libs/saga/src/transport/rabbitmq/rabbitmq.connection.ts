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
  manager.on('connect', ({ url }) => {
    lastError = undefined;
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
