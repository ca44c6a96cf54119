import { randomUUID } from 'node:crypto';
import { OrderApi } from '../../../apps/monolith/src/demo/order-api';
import { type DemoOutcome, mismatches } from '../../../apps/monolith/src/demo/report';
import { DEMO_SCENARIOS, type DemoOrder } from '../../../apps/monolith/src/demo/scenarios';
import {
  EXPECTED_TIMELINES,
  placeScriptedOrders,
  runScriptedOrdersOnMonolith,
  timeline,
} from './support/scripted-orders';
import { samplesOf } from '../../../scripts/lib/prometheus';
import { ServiceStack } from './support/service-stack';
import { BAD_ORDER, expectBadOrderFields } from '../../support/http';
import { OtlpCollector } from './support/otlp-collector';

/**
 * The sample shop as three processes (order, payment, shipping), each on its own PostgreSQL database, talking
 * through the local RabbitMQ: the scripted orders of the demos end as scripted, with the same step timelines
 * as in the monolith, and leave the rows they imply in each service's database.
 */
describe('distributed shop (3 processes, RabbitMQ, PostgreSQL)', () => {
  const stack = new ServiceStack('shop');
  /** Receives the services' spans (OTLP/HTTP JSON), as Jaeger or an OpenTelemetry Collector would. */
  const collector = new OtlpCollector();
  let api: OrderApi;
  /** The monolith's outcomes for the same scenarios, computed while the services boot. */
  let monolith: DemoOutcome[];
  let scripted: Promise<DemoOutcome[]> | undefined;
  /** Placed once, by whichever test needs them first. */
  const scriptedOutcomes = () => (scripted ??= placeScriptedOrders(api));
  const byCustomer = async (customerId: string) => {
    const outcome = (await scriptedOutcomes()).find((o) => o.scenario.order.customerId === customerId);
    if (!outcome) throw new Error(`no scripted order for ${customerId}`);
    return outcome;
  };

  beforeAll(async () => {
    // Both to the end (allSettled), so that neither still runs when afterAll tears the stack down.
    const tracing = {
      OTEL_EXPORTER_OTLP_ENDPOINT: await collector.start(),
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const [up, mono] = await Promise.allSettled([
      stack.up({ order: tracing, payment: tracing, shipping: tracing }),
      runScriptedOrdersOnMonolith(),
    ]);
    if (up.status === 'rejected') throw up.reason;
    if (mono.status === 'rejected') throw mono.reason;
    monolith = mono.value;
    api = new OrderApi(stack.url('order'));
  }, 180_000);

  afterAll(async () => {
    await stack.down();
    await collector.stop();
  }, 60_000);

  const postOrders = (body: unknown) =>
    fetch(`${stack.url('order')}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it.each(DEMO_SCENARIOS.map((s) => [s.label, s] as const))(
    '%s: ends as scripted',
    async (_label, scenario) => {
      const outcome = await byCustomer(scenario.order.customerId);
      expect(mismatches(outcome)).toEqual([]);
      expect(outcome.saga.status).toBe(scenario.expect.sagaStatus);
      expect(outcome.orderStatus).toBe(scenario.expect.orderStatus);
      expect(timeline(outcome.saga)).toEqual(EXPECTED_TIMELINES[scenario.order.customerId]);
    },
    45_000,
  );

  it('produces the same step timelines, saga and order statuses as the monolith', async () => {
    const summary = (outcomes: DemoOutcome[]) =>
      outcomes.map((o) => ({
        label: o.scenario.label,
        saga: o.saga.status,
        order: o.orderStatus,
        timeline: timeline(o.saga),
      }));
    expect(summary(monolith)).toHaveLength(DEMO_SCENARIOS.length);
    expect(summary(await scriptedOutcomes())).toEqual(summary(monolith));
  }, 45_000);

  it("leaves one CHARGED payment and one shipment for alice's order only; bob's payment REFUNDED", async () => {
    const [alice, carol, bob] = await Promise.all(['alice', 'carol', 'bob'].map(byCustomer));
    const orderIds = [alice.orderId, carol.orderId, bob.orderId];
    const payments = await stack.query<{ order_id: string; customer_id: string; status: string }>(
      'payment',
      'SELECT order_id, customer_id, status FROM payments WHERE order_id = ANY($1) ORDER BY customer_id',
      [orderIds],
    );
    expect(payments).toEqual([
      { order_id: alice.orderId, customer_id: 'alice', status: 'CHARGED' },
      { order_id: bob.orderId, customer_id: 'bob', status: 'REFUNDED' },
    ]);
    const credits = await stack.query<{ id: string; available_credit: string }>(
      'payment',
      'SELECT id, available_credit FROM customers ORDER BY id',
    );
    expect(credits.map((c) => [c.id, Number(c.available_credit)])).toEqual([
      ['alice', 900],
      ['bob', 1000],
      ['carol', 10],
    ]);
    const shipments = await stack.query<{ order_id: string; status: string }>(
      'shipping',
      'SELECT order_id, status FROM shipments WHERE order_id = ANY($1)',
      [orderIds],
    );
    expect(shipments).toEqual([{ order_id: alice.orderId, status: 'SCHEDULED' }]);
    const orders = await stack.query<{ id: string; status: string }>(
      'order',
      'SELECT id, status FROM orders WHERE id = ANY($1) ORDER BY customer_id',
      [orderIds],
    );
    expect(orders).toEqual([
      { id: alice.orderId, status: 'APPROVED' },
      { id: bob.orderId, status: 'REJECTED' },
      { id: carol.orderId, status: 'REJECTED' },
    ]);
  }, 45_000);

  it('answers 400 with the invalid fields on a bad body, and starts nothing', async () => {
    const [{ count: before }] = await stack.query<{ count: string }>(
      'order',
      'SELECT count(*) FROM saga_instance',
    );
    await expectBadOrderFields(await postOrders(BAD_ORDER));
    const [{ count: after }] = await stack.query<{ count: string }>(
      'order',
      'SELECT count(*) FROM saga_instance',
    );
    expect(after).toBe(before);
  });

  it("serves the library's metrics to Prometheus on GET /metrics of every service", async () => {
    await scriptedOutcomes();
    const scrape = async (app: 'order' | 'payment' | 'shipping') => {
      const response = await fetch(`${stack.url(app)}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      return response.text();
    };
    /** The value of the sample of `name` that has every label of `labels`. */
    const sample = (text: string, name: string, labels: Record<string, string>): number =>
      samplesOf(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ??
      NaN;
    const completed = DEMO_SCENARIOS.filter((s) => s.expect.sagaStatus === 'COMPLETED').length;
    const compensated = DEMO_SCENARIOS.length - completed;
    const order = await scrape('order');
    expect(sample(order, 'saga_finished_total', { saga_status: 'COMPLETED' })).toBeGreaterThanOrEqual(
      completed,
    );
    expect(sample(order, 'saga_finished_total', { saga_status: 'COMPENSATED' })).toBeGreaterThanOrEqual(
      compensated,
    );
    expect(order).toMatch(/^target_info\{[^}]*service_name="order"/m);
    const payment = await scrape('payment');
    expect(
      sample(payment, 'saga_commands_total', { saga_command: 'ChargePayment', saga_outcome: 'success' }),
    ).toBeGreaterThanOrEqual(1);
    const shipping = await scrape('shipping');
    expect(sample(shipping, 'saga_outbox_published_total', {})).toBeGreaterThanOrEqual(1);
  });

  it('exports one trace per saga across the three services over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)', async () => {
    const { sagaId } = await byCustomer('alice');
    const names = (traceId: string) =>
      collector.spans
        .filter((span) => span.traceId === traceId)
        .map((span) => `${span.service}: ${span.name}`)
        .sort();
    let traceId: string | undefined;
    const expected = [
      'order: saga reply place-order',
      'order: saga reply place-order',
      'order: saga start place-order',
      'payment: saga command ChargePayment',
      'shipping: saga command ScheduleShipment',
    ];
    // Batched every 100 ms by each service: wait for the five spans of alice's saga.
    for (let waited = 0; waited < 10_000; waited += 100) {
      traceId = collector.spans.find(
        (s) => s.name === 'saga start place-order' && s.sagaId === sagaId,
      )?.traceId;
      if (traceId && names(traceId).length >= expected.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(traceId).toBeDefined();
    expect(names(traceId!)).toEqual(expected);
    // Each command's span is a child of the span that sent it (W3C traceparent on the message).
    const inTrace = collector.spans.filter((s) => s.traceId === traceId);
    const start = inTrace.find((s) => s.name === 'saga start place-order')!;
    const charge = inTrace.find((s) => s.name === 'saga command ChargePayment')!;
    expect(charge.parentSpanId).toBe(start.spanId);
  });

  it('answers 404 for an unknown saga or order', async () => {
    expect((await fetch(`${stack.url('order')}/sagas/${randomUUID()}`)).status).toBe(404);
    expect((await fetch(`${stack.url('order')}/orders/${randomUUID()}`)).status).toBe(404);
  });

  it('honours Idempotency-Key: the same key twice gives the same order and saga, and one order row', async () => {
    const order: DemoOrder = { customerId: 'bob', amount: 5, country: 'FR', address: '1 rue de Rivoli' };
    const key = `e2e-${randomUUID()}`;
    const countOrders = async () =>
      Number((await stack.query<{ n: string }>('order', 'SELECT count(*) AS n FROM orders'))[0].n);
    const ordersBefore = await countOrders();
    const first = await api.placeOrder(order, key);
    const again = await api.placeOrder({ ...order, amount: 7 }, key);
    expect(again).toEqual(first);
    const saga = await api.waitForSaga(first.sagaId, 30_000);
    expect(saga.status).toBe('COMPLETED');
    const rows = await stack.query<{ id: string; amount: string }>(
      'order',
      'SELECT id, amount FROM orders WHERE saga_id = $1',
      [first.sagaId],
    );
    expect(rows.map((r) => [r.id, Number(r.amount)])).toEqual([[first.orderId, 5]]); // the first data wins
    expect(await countOrders()).toBe(ordersBefore + 1);
    const payments = await stack.query('payment', 'SELECT 1 FROM payments WHERE order_id = $1', [
      first.orderId,
    ]);
    expect(payments).toHaveLength(1);
  }, 45_000);
});
