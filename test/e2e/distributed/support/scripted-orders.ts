import { Test } from '@nestjs/testing';
import { OrderApi } from '../../../../apps/monolith/src/demo/order-api';
import type { DemoOutcome, DemoSagaView } from '../../../../apps/monolith/src/demo/report';
import { DEMO_SCENARIOS } from '../../../../apps/monolith/src/demo/scenarios';
import { MonolithModule } from '../../../../apps/monolith/src/monolith.module';

/** A saga's history as `step phase outcome` lines: what the demos print, without attempts, details or times. */
export function timeline(saga: DemoSagaView): string[] {
  return saga.history.map((h) => `${h.step} ${h.phase} ${h.outcome}`);
}

/** The timeline each scripted order must have, by customer (one order each in DEMO_SCENARIOS). */
export const EXPECTED_TIMELINES: Record<string, string[]> = {
  alice: [
    'create invoke succeeded',
    'charge invoke sent',
    'charge reply succeeded',
    'ship invoke sent',
    'ship reply succeeded',
    'approve invoke succeeded',
  ],
  carol: [
    'create invoke succeeded',
    'charge invoke sent',
    'charge reply failed',
    'create compensate succeeded',
  ],
  bob: [
    'create invoke succeeded',
    'charge invoke sent',
    'charge reply succeeded',
    'ship invoke sent',
    'ship reply failed',
    'charge compensate sent',
    'charge compensate-reply succeeded',
    'create compensate succeeded',
  ],
};

/**
 * Places every scripted order through `POST /orders` first (so they run concurrently, as in the demos),
 * then waits for each saga to end and reads its order's status.
 */
export async function placeScriptedOrders(api: OrderApi, timeoutMs = 30_000): Promise<DemoOutcome[]> {
  const placed = [];
  for (const scenario of DEMO_SCENARIOS) placed.push({ scenario, ...(await api.placeOrder(scenario.order)) });
  const outcomes: DemoOutcome[] = [];
  for (const { scenario, orderId, sagaId } of placed) {
    const saga = await api.waitForSaga(sagaId, timeoutMs);
    outcomes.push({ scenario, orderId, sagaId, saga, orderStatus: await api.orderStatus(orderId) });
  }
  return outcomes;
}

/**
 * The same scripted orders through the monolith (in-process transport, in-memory SQLite), booted in this
 * process with @nestjs/testing and driven through the same HTTP API and client.
 */
export async function runScriptedOrdersOnMonolith(): Promise<DemoOutcome[]> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      MonolithModule.forRoot({ serviceName: 'shop', database: { kind: 'sqlite', file: ':memory:' } }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  try {
    await app.listen(0, '127.0.0.1');
    return await placeScriptedOrders(new OrderApi(await app.getUrl()));
  } finally {
    await app.close();
  }
}
