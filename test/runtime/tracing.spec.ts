import { context, propagation, trace, SpanStatusCode, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import {
  HandleCommand,
  InProcessTransport,
  SagaManager,
  SagaOrchestration,
  SagaParticipant,
  Step,
  StepFailure,
  type SagaContext,
} from 'nestjs-saga';
import { dataSourceOptions } from '../support/databases';
import { bootTransferApp, TransferSaga } from './transfer-saga.fixture';

const tracer = () => trace.getTracer('tracing-spec');

/** Opens a span of the application's own inside `fn`, as an instrumented library would. */
async function userSpan<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, async (span: Span) => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

@SagaOrchestration({ name: 'traced' })
class TracedSaga {
  @Step(1, { participant: 'tracer', command: 'Work', pivot: true })
  work(ctx: SagaContext<{ fail?: boolean }>) {
    return { fail: ctx.data.fail ?? false };
  }

  @Step(2)
  async after(): Promise<void> {
    await userSpan('local work', async () => undefined);
  }
}

@SagaParticipant('tracer')
class TracerParticipant {
  @HandleCommand('Work')
  async work(cmd: { fail: boolean }): Promise<object> {
    return userSpan('handler work', async () => {
      if (cmd.fail) throw new StepFailure('cannot work');
      return { done: true };
    });
  }
}

describe('OpenTelemetry tracing (in-process transport, SQLite)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let moduleRef: TestingModule;
  let sagas: SagaManager;

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  beforeEach(async () => {
    exporter.reset();
    moduleRef = await bootTransferApp(
      await dataSourceOptions('sqlite', 'tracing_test'),
      { service: 'bank-app', transport: new InProcessTransport({ retryDelayMs: 10 }) },
      [TracedSaga, TracerParticipant],
    );
    sagas = moduleRef.get(SagaManager);
  });

  afterEach(async () => {
    await moduleRef?.close();
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
  const one = (name: string): ReadableSpan => {
    const found = named(name);
    expect(found.map((s) => s.name)).toEqual([name]);
    return found[0];
  };
  const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
  const idOf = (span: ReadableSpan): string => span.spanContext().spanId;

  it("links a saga's spans across its messages, under the caller's span", async () => {
    const { sagaId, traceId, requestSpanId } = await userSpan('POST /transfers', async () => {
      const request = trace.getActiveSpan()!.spanContext();
      const id = await sagas.start(TransferSaga, { account: 'acc-1', amount: 50, country: 'FR' });
      return { sagaId: id, traceId: request.traceId, requestSpanId: request.spanId };
    });
    expect((await sagas.waitFor(sagaId, { timeoutMs: 10_000 })).status).toBe('COMPLETED');

    const start = one('saga start transfer');
    const debit = one('saga command Debit');
    const notify = one('saga command Notify');
    const replies = named('saga reply transfer');
    expect(replies).toHaveLength(2);
    const byStep = new Map(replies.map((r) => [r.attributes['saga.step'], r]));
    // The chain: request → start → Debit (handler) → its reply → Notify → its reply.
    expect(parentOf(start)).toBe(requestSpanId);
    expect(parentOf(debit)).toBe(idOf(start));
    expect(parentOf(byStep.get('debit')!)).toBe(idOf(debit));
    expect(parentOf(notify)).toBe(idOf(byStep.get('debit')!));
    expect(parentOf(byStep.get('notify')!)).toBe(idOf(notify));
    for (const span of [start, debit, notify, ...replies]) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.attributes['saga.id']).toBe(sagaId);
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    expect(debit.attributes).toMatchObject({
      'saga.participant': 'bank',
      'saga.step': 'debit',
      'saga.outcome': 'success',
    });

    // The messages carry the span that sent them, as W3C trace context.
    const bodies = await moduleRef
      .get(DataSource)
      .query<{ body: string }[]>('SELECT body FROM saga_outbox ORDER BY id');
    const traceparents = bodies.map((b) => (JSON.parse(b.body) as { traceparent?: string }).traceparent);
    expect(traceparents).toEqual([
      `00-${traceId}-${idOf(start)}-01`, // Debit
      `00-${traceId}-${idOf(debit)}-01`, // its reply
      `00-${traceId}-${idOf(byStep.get('debit')!)}-01`, // Notify
      `00-${traceId}-${idOf(notify)}-01`, // its reply
    ]);
  });

  it("nests the application's own spans under the handler's and the step's", async () => {
    const id = await sagas.start(TracedSaga, {});
    expect((await sagas.waitFor(id, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
    expect(parentOf(one('handler work'))).toBe(idOf(one('saga command Work')));
    expect(parentOf(one('local work'))).toBe(idOf(one('saga reply traced')));
    // No caller span: the saga's trace starts with its start span.
    expect(parentOf(one('saga start traced'))).toBeUndefined();
  });

  it('marks the span of a handler that failed, and the reply says so', async () => {
    const id = await sagas.start(TracedSaga, { fail: true });
    const view = await sagas.waitFor(id, { timeoutMs: 10_000 });
    expect(view.status).not.toBe('COMPLETED');
    const work = one('saga command Work');
    expect(work.status).toEqual({ code: SpanStatusCode.ERROR, message: 'cannot work' });
    expect(work.attributes['saga.outcome']).toBe('failure');
    expect(one('saga reply traced').attributes['saga.outcome']).toBe('failure');
  });
});

describe('without an OpenTelemetry SDK', () => {
  it('sends messages without trace context (the API is a no-op)', async () => {
    const moduleRef = await bootTransferApp(await dataSourceOptions('sqlite', 'tracing_off_test'), {
      service: 'bank-app',
      transport: new InProcessTransport({ retryDelayMs: 10 }),
    });
    try {
      const sagas = moduleRef.get(SagaManager);
      const id = await sagas.start(TransferSaga, { account: 'acc-1', amount: 50, country: 'FR' });
      expect((await sagas.waitFor(id, { timeoutMs: 10_000 })).status).toBe('COMPLETED');
      const bodies = await moduleRef
        .get(DataSource)
        .query<{ body: string }[]>('SELECT body FROM saga_outbox ORDER BY id');
      expect(bodies).toHaveLength(4);
      for (const { body } of bodies) expect(JSON.parse(body)).not.toHaveProperty('traceparent');
    } finally {
      await moduleRef.close();
    }
  });
});
