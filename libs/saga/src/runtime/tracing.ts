import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { SagaMessage } from '../transport/message';
import type { Disposition, IncomingMessage } from '../transport/transport';

/**
 * OpenTelemetry tracing through `@opentelemetry/api`: a span for each saga start, each command a participant handles
 * and each reply, timer or operator action the coordinator applies, linked across services by the W3C `traceparent`
 * every message carries (the span that sent it). The application brings the SDK: with no tracer provider,
 * propagator or context manager registered, every call here is the API's no-op and messages carry no trace context
 * (a command's `traceparent` is then passed on to its reply unchanged).
 */
const TRACER_NAME = 'nestjs-saga';

export { SpanKind };

/** Attribute names the spans carry (besides OpenTelemetry's messaging conventions). */
export const SAGA_ATTRIBUTES = {
  id: 'saga.id',
  type: 'saga.type',
  step: 'saga.step',
  phase: 'saga.phase',
  attempt: 'saga.attempt',
  participant: 'saga.participant',
  outcome: 'saga.outcome',
} as const;

/** The W3C `traceparent` of `ctx`'s span, or undefined (no span, or no propagator registered). */
export function traceparentOf(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a message's `traceparent` names as parent (the root context when it has none). */
function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The active context: the caller's span, for a start or an operator action. */
export function activeContext(): Context {
  return context.active();
}

/** Ends `span`; with `error`, as failed (the error recorded, the status ERROR with its message). */
function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const failure =
      error instanceof Error ? error : new Error(typeof error === 'string' ? error : JSON.stringify(error));
    span.recordException(failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  }
  span.end();
}

/** A span and the context it is active in: one per message handled, however often its transaction is run. */
export interface Traced {
  span: Span;
  ctx: Context;
}

/** Starts the span of one message's handling under `parent`; run its work with `runIn`, end it with `endSpan`. */
export function startTraced(name: string, kind: SpanKind, parent: Context, attributes: Attributes): Traced {
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** The span of handling one message (a command, a reply), under the span that sent it, with its saga's attributes. */
export function startMessageSpan(name: string, message: SagaMessage, attributes: Attributes): Traced {
  return startTraced(name, SpanKind.CONSUMER, contextOf(message.traceparent), {
    [SAGA_ATTRIBUTES.id]: message.sagaId,
    [SAGA_ATTRIBUTES.type]: message.sagaType,
    [SAGA_ATTRIBUTES.step]: message.step,
    [SAGA_ATTRIBUTES.phase]: message.phase,
    [SAGA_ATTRIBUTES.attempt]: message.attempt,
    'messaging.message.id': message.messageId,
    ...attributes,
  });
}

/**
 * Ends the spans of a batch's messages (`spans` by message id; those without one are skipped) once `dispositions`
 * are known: a message to be redelivered ends failed, with `retryReason`.
 */
export function endMessageSpans(
  batch: readonly IncomingMessage[],
  dispositions: readonly Disposition[],
  spans: ReadonlyMap<string, Traced>,
  retryReason: string,
): void {
  batch.forEach(({ message }, i) => {
    const traced = spans.get(message.messageId);
    if (traced) endSpan(traced.span, dispositions[i]?.kind === 'retry' ? new Error(retryReason) : undefined);
  });
}

/** Runs `fn`, then ends `span`: failed, with the error, if `fn` throws. */
export async function endingSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    endSpan(span);
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/** Runs `fn` with `traced`'s span active. */
export function runIn<T>(traced: Traced, fn: () => T): T {
  return context.with(traced.ctx, fn);
}

/** Marks `span` failed without an exception (a step or handler that ended in a failure the saga handles). */
export function markFailed(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
