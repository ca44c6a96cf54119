import type { DemoSagaView } from './report';
import type { DemoOrder } from './scenarios';

/** `POST /orders`'s answer. */
export interface PlacedOrder {
  orderId: string;
  sagaId: string;
}

const TERMINAL = ['COMPLETED', 'COMPENSATED', 'COMPENSATION_FAILED'];

/**
 * A small client of the order service's HTTP API (`baseUrl` like `http://127.0.0.1:3001`), used by the
 * distributed demo and the end-to-end specs. Methods throw on unexpected HTTP statuses.
 */
export class OrderApi {
  constructor(private readonly baseUrl: string) {}

  async placeOrder(order: DemoOrder, idempotencyKey?: string): Promise<PlacedOrder> {
    const res = await fetch(`${this.baseUrl}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: JSON.stringify(order),
    });
    return (await expectStatus(res, 202)) as PlacedOrder;
  }

  /** The order's status, or null when the service does not know it (404). */
  async orderStatus(orderId: string): Promise<string | null> {
    const res = await fetch(`${this.baseUrl}/orders/${encodeURIComponent(orderId)}`);
    if (res.status === 404) return null;
    return ((await expectStatus(res, 200)) as { status: string }).status;
  }

  async saga(sagaId: string): Promise<DemoSagaView> {
    const res = await fetch(`${this.baseUrl}/sagas/${encodeURIComponent(sagaId)}`);
    return (await expectStatus(res, 200)) as DemoSagaView;
  }

  /** Polls `GET /sagas/:id` until the saga is COMPLETED, COMPENSATED or COMPENSATION_FAILED. */
  async waitForSaga(sagaId: string, timeoutMs = 30_000, pollMs = 100): Promise<DemoSagaView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.saga(sagaId);
      if (TERMINAL.includes(view.status)) return view;
      if (Date.now() > deadline)
        throw new Error(`saga ${sagaId} is still ${view.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

async function expectStatus(res: Response, status: number): Promise<unknown> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${res.url}: HTTP ${res.status} (expected ${status}): ${text}`);
  return text ? (JSON.parse(text) as unknown) : null;
}
