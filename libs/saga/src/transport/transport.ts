import type { SagaMessage } from './message';

/** A message to publish, as the outbox relay hands it over: the envelope and its JSON text. */
export interface OutgoingMessage {
  message: SagaMessage;
  /** `JSON.stringify(message)`, computed once when the outbox row was written. */
  body: string;
}

/** A delivered message. `message` is the parsed, envelope-checked body. */
export interface IncomingMessage {
  message: SagaMessage;
  /** True when the broker says this may have been delivered before. */
  redelivered: boolean;
}

/**
 * What happened to a delivered message: `ack` after its effect committed (or it was a duplicate);
 * `retry` to have it delivered again (the transaction failed for an infrastructure reason);
 * `reject` to send it to the dead-letter queue with a reason.
 */
export type Disposition = { kind: 'ack' } | { kind: 'retry' } | { kind: 'reject'; reason: string };

/**
 * Handles the messages that arrived together. It returns one disposition per message, in order.
 * If it throws, every message in the batch is retried.
 */
export type BatchHandler = (batch: IncomingMessage[]) => Promise<Disposition[]>;

/** The queues one service consumes. */
export interface ConsumerSpec {
  /** Participant names whose command queues this service consumes. */
  participants: string[];
  /** When set, this service coordinates sagas and consumes the reply queue of this service name. */
  replies?: string;
}

/**
 * The port that moves saga messages. Two adapters: in-process (monolith, tests) and RabbitMQ.
 * Lifecycle: `connect` (declare topology) → `consume` → `publish`… → `close`.
 */
export interface SagaTransport {
  /** A short name for logs, e.g. `in-process` or `rabbitmq`. */
  readonly name: string;
  /** Connects and declares the exchanges and queues that `spec` needs. */
  connect(spec: ConsumerSpec): Promise<void>;
  /**
   * Publishes messages durably. Resolves only when every message is safely with the broker
   * (publisher confirms); rejects if any was not, so the outbox keeps the rows for retry.
   */
  publish(messages: OutgoingMessage[]): Promise<void>;
  /** Starts delivering commands for `participant`, or replies for the coordinating service `service`. */
  consume(target: { commandsFor: string } | { repliesFor: string }, handler: BatchHandler): Promise<void>;
  /** Stops consuming, waits for in-flight handlers, closes connections. Safe to call twice. */
  close(): Promise<void>;
}
