import type { Message, Options } from 'amqplib';
import { REQUIRED_ENVELOPE_FIELDS, type MessageKind, type SagaMessage } from '../message';
import { ORIGINAL_QUEUE_HEADER, REJECT_REASON_HEADER } from './rabbitmq.topology';

/** One message ready to go on the wire. */
export interface Outgoing {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

export type ParseResult = { ok: true; message: SagaMessage } | { ok: false; reason: string };

/** Longest reject reason kept in a header; AMQP header tables are limited to 64 KiB in all. */
const MAX_REASON_LENGTH = 1000;

/** Parses and checks a delivered body before any handler sees it. */
export function parseEnvelope(content: Buffer, expected: MessageKind): ParseResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${errorMessage(err)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'invalid envelope: the body is not a JSON object' };
  }
  const record = parsed as Record<string, unknown>;
  const missing = REQUIRED_ENVELOPE_FIELDS.filter((f) => record[f] === undefined || record[f] === null);
  if (missing.length > 0) {
    return { ok: false, reason: `missing envelope field(s): ${missing.join(', ')}` };
  }
  if (record.kind !== expected) {
    const holds = expected === 'command' ? 'commands' : 'replies';
    return { ok: false, reason: `wrong kind: a '${String(record.kind)}' message in a queue of ${holds}` };
  }
  return { ok: true, message: parsed as SagaMessage };
}

/** AMQP properties of a saga message: persistent JSON, identified for the management UI and tracing. */
export function publishOptionsFor(message: SagaMessage): Options.Publish {
  const headers: Record<string, string> = {};
  if (message.traceparent) headers.traceparent = message.traceparent;
  return {
    persistent: true,
    contentType: 'application/json',
    messageId: message.messageId,
    type: message.type,
    headers,
  };
}

/**
 * Properties of a dead-lettered copy: the original ones (minus those that could expire it or fail the publish)
 * plus why and where from.
 */
export function deadLetterOptions(msg: Message, queue: string, reason: string): Options.Publish {
  const p = msg.properties;
  const original: Record<string, unknown> = { ...(p.headers ?? {}) };
  return {
    persistent: true,
    contentType: optionalString(p.contentType),
    contentEncoding: optionalString(p.contentEncoding),
    messageId: optionalString(p.messageId),
    correlationId: optionalString(p.correlationId),
    type: optionalString(p.type),
    appId: optionalString(p.appId),
    timestamp: typeof p.timestamp === 'number' ? p.timestamp : undefined,
    headers: {
      ...original,
      [REJECT_REASON_HEADER]: truncate(reason, MAX_REASON_LENGTH),
      [ORIGINAL_QUEUE_HEADER]: queue,
    },
  };
}

/** The message id of a delivery for logs: the AMQP property, or `unknown`. */
export function messageIdOf(msg: Message): string {
  const id: unknown = msg.properties.messageId;
  return typeof id === 'string' && id !== '' ? id : 'unknown';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
