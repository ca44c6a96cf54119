import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { OrderApi } from '../../apps/monolith/src/demo/order-api';
import { mismatches } from '../../apps/monolith/src/demo/report';
import { DEMO_SCENARIOS, type DemoOrder } from '../../apps/monolith/src/demo/scenarios';
import { MonolithModule } from '../../apps/monolith/src/monolith.module';
import { OPERATOR_TOKEN } from '../../apps/order/src/operator.guard';
import { Customer } from '../../apps/payment/src/customer.entity';
import { Payment } from '../../apps/payment/src/payment.entity';
import { Shipment } from '../../apps/shipping/src/shipment.entity';
import { BAD_ORDER, expectBadOrderFields } from '../support/http';

/** The rows each scripted order must leave in the payment and shipping tables. */
const EFFECTS: Record<string, { payment: string | null; shipment: string | null }> = {
  alice: { payment: 'CHARGED', shipment: 'SCHEDULED' },
  carol: { payment: null, shipment: null },
  bob: { payment: 'REFUNDED', shipment: null },
};

const validOrder: DemoOrder = { customerId: 'alice', amount: 5, country: 'fr', address: '1 rue de Rivoli' };
const OPERATOR_SECRET = 'e2e-operator-secret';
const asOperator = { authorization: `Bearer ${OPERATOR_SECRET}` };

/** The monolith on in-memory SQLite, listening on a free port, with `operatorToken` as OPERATOR_TOKEN. */
async function startMonolith(operatorToken: string | undefined): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      MonolithModule.forRoot({ serviceName: 'shop', database: { kind: 'sqlite', file: ':memory:' } }),
    ],
  })
    .overrideProvider(OPERATOR_TOKEN)
    .useValue(operatorToken)
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  return app;
}

describe('monolith end to end (HTTP, in-process transport, in-memory SQLite)', () => {
  let app: INestApplication;
  let api: OrderApi;
  let baseUrl: string;
  let db: DataSource;

  beforeAll(async () => {
    app = await startMonolith(OPERATOR_SECRET);
    baseUrl = await app.getUrl();
    api = new OrderApi(baseUrl);
    db = app.get(DataSource);
  });
  afterAll(() => app?.close());

  const postOrders = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it.each(DEMO_SCENARIOS.map((s) => [s.label, s] as const))('%s', async (_label, scenario) => {
    const { orderId, sagaId } = await api.placeOrder(scenario.order);
    const saga = await api.waitForSaga(sagaId, 15_000);
    const orderStatus = await api.orderStatus(orderId);
    expect(mismatches({ scenario, orderId, sagaId, saga, orderStatus })).toEqual([]);

    const effects = EFFECTS[scenario.order.customerId];
    const payment = await db.manager.findOneBy(Payment, { orderId });
    const shipment = await db.manager.findOneBy(Shipment, { orderId });
    expect(payment?.status ?? null).toBe(effects.payment);
    expect(shipment?.status ?? null).toBe(effects.shipment);
  });

  it('leaves the credits as the three orders imply (bob refunded, carol never charged)', async () => {
    const credits = Object.fromEntries(
      (await db.manager.find(Customer)).map((c) => [c.id, c.availableCredit] as const),
    );
    expect(credits).toEqual({ alice: 900, bob: 1000, carol: 10 });
  });

  it('answers 400 with the invalid fields on a bad body', async () => {
    await expectBadOrderFields(await postOrders(BAD_ORDER));
  });

  it('answers 404 for an unknown order or saga', async () => {
    expect((await fetch(`${baseUrl}/orders/${randomUUID()}`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/orders/not-an-id`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/sagas/${randomUUID()}`)).status).toBe(404);
  });

  it('creates the order with the saga, upper-casing the country', async () => {
    const { orderId, sagaId } = await api.placeOrder(validOrder);
    const res = await fetch(`${baseUrl}/orders/${orderId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: orderId,
      sagaId,
      customerId: 'alice',
      amount: 5,
      country: 'FR',
    });
    await api.waitForSaga(sagaId);
  });

  it('honours Idempotency-Key: a repeated request returns the first order and saga', async () => {
    const key = `order-${randomUUID()}`;
    const first = await api.placeOrder(validOrder, key);
    const again = await api.placeOrder({ ...validOrder, amount: 7 }, key);
    expect(again).toEqual(first);
    await api.waitForSaga(first.sagaId);
    expect(await db.manager.countBy(Payment, { orderId: first.orderId })).toBe(1);
  });

  describe('operator API', () => {
    const post = (path: string, body: unknown = {}, headers: Record<string, string> = asOperator) =>
      fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const get = (path: string, headers: Record<string, string> = asOperator) =>
      fetch(`${baseUrl}${path}`, { headers });

    it('lets only a holder of OPERATOR_TOKEN list sagas or act on them; a saga by id stays open', async () => {
      const { sagaId } = await api.placeOrder(validOrder);
      await api.waitForSaga(sagaId, 15_000);
      const refused: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: OPERATOR_SECRET }, // the scheme is missing
      ];
      for (const headers of refused) {
        const list = await get('/sagas?status=COMPLETED', headers);
        expect(list.status).toBe(401);
        expect(((await list.json()) as { message: string }).message).toContain('OPERATOR_TOKEN');
        expect((await post(`/sagas/${sagaId}/abort`, { reason: 'x' }, headers)).status).toBe(401);
      }
      expect((await get(`/sagas/${sagaId}`, {})).status).toBe(200);
    });

    it('lists sagas by status and age', async () => {
      const { sagaId } = await api.placeOrder(validOrder);
      await api.waitForSaga(sagaId, 15_000);
      const completed = (await (await get('/sagas?status=COMPLETED')).json()) as { id: string }[];
      expect(completed.map((s) => s.id)).toContain(sagaId);
      const stuck = (await (await get('/sagas?status=RUNNING,COMPENSATING&olderThanMs=60000')).json()) as [];
      expect(stuck).toEqual([]);
      const bad = await get('/sagas?status=DONE');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { fields: { property: string }[] }).fields[0].property).toBe('status');
    });

    it('refuses to abort a finished saga (409), answers 404 for an unknown saga or action', async () => {
      const { sagaId } = await api.placeOrder(validOrder);
      await api.waitForSaga(sagaId, 15_000);
      const refused = await post(`/sagas/${sagaId}/abort`, { reason: 'too late' });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { message: string }).message).toContain('COMPLETED');
      expect((await post(`/sagas/${randomUUID()}/retry`)).status).toBe(404);
      expect((await post(`/sagas/${sagaId}/explode`)).status).toBe(404);
      expect((await post(`/sagas/not-a-uuid/retry`)).status).toBe(400);
    });
  });

  it('answers /health', async () => {
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);
  });
});

describe('operator routes without OPERATOR_TOKEN', () => {
  it('refuses every operator request (403), saying how to enable them', async () => {
    const app = await startMonolith(undefined);
    try {
      const baseUrl = await app.getUrl();
      const list = await fetch(`${baseUrl}/sagas`, { headers: asOperator });
      expect(list.status).toBe(403);
      expect(((await list.json()) as { message: string }).message).toContain('set OPERATOR_TOKEN');
      const act = await fetch(`${baseUrl}/sagas/${randomUUID()}/retry`, {
        method: 'POST',
        headers: asOperator,
      });
      expect(act.status).toBe(403);
    } finally {
      await app.close();
    }
  });
});
