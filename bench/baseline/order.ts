/**
 * The order coordinator of the baseline, with the load generator embedded: `startOne` starts a saga and
 * resolves when this process commits its terminal transition. The library variant must be driven the same way
 * (in its coordinator process, resolving on the terminal state in-process, with no polling) for a fair comparison.
 *
 * place-order: [create order + saga, CHARGING] → ChargePayment → PaymentCharged → [SHIPPING] → ScheduleShipment
 *   → ShipmentScheduled → [COMPLETED + order approved]. Every transition is one transaction (saga row updated
 *   with a version check, transition row inserted); commands are published after the commit, with a confirm.
 */
import { serveControl } from '../lib/control';
import { customerCycle } from '../lib/customers';
import { forcePgStatsFlush } from '../lib/pg-stats';
import { Broker, DATABASES, Db, log, newCounters, QUEUES, settingsFromEnv, type Envelope } from './common';
import { uuidv7 } from '../../libs/saga/src/runtime/ids';

type SagaState = 'CHARGING' | 'SHIPPING' | 'COMPLETED';

interface SagaData {
  orderId: string;
  customerId: string;
  total: number;
  country: string;
  paymentId?: string;
  shipmentId?: string;
}

/** What each reply moves the saga from and to, and the command it sends next (none: terminal). */
const TRANSITIONS: Record<
  string,
  { from: SagaState; to: SagaState; next?: (data: SagaData) => [string, string, object] }
> = {
  PaymentCharged: {
    from: 'CHARGING',
    to: 'SHIPPING',
    next: (d) => [QUEUES.shipping, 'ScheduleShipment', { orderId: d.orderId, country: d.country }],
  },
  ShipmentScheduled: { from: 'SHIPPING', to: 'COMPLETED' },
};

const SCHEMA = [
  'DROP TABLE IF EXISTS orders, saga, saga_transition',
  `CREATE TABLE orders (
     id uuid PRIMARY KEY, customer_id text NOT NULL, total integer NOT NULL, country text NOT NULL,
     status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE saga (
     id uuid PRIMARY KEY, type text NOT NULL, state text NOT NULL, version integer NOT NULL, data jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE saga_transition (
     saga_id uuid NOT NULL, seq integer NOT NULL, from_state text, to_state text NOT NULL, message_id uuid,
     at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (saga_id, seq))`,
];

/** A saga that does not finish within this time fails the run instead of hanging it. */
const SAGA_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const counters = newCounters();
  const db = await Db.open(DATABASES.order, settings.poolMax, SCHEMA, counters);
  const queues = [QUEUES.replies, QUEUES.payment, QUEUES.shipping];
  const broker = await Broker.open(settings.amqpUrl, settings.prefetch, queues, counters);
  const waiting = new Map<
    string,
    { resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();

  const command = (sagaId: string, type: string, payload: object): Envelope => ({
    messageId: uuidv7(),
    sagaId,
    type,
    payload: payload as Record<string, unknown>,
  });

  const nextCustomer = customerCycle();
  const startOne = async (): Promise<void> => {
    const sagaId = uuidv7();
    const customerId = nextCustomer();
    const data: SagaData = { orderId: uuidv7(), customerId, total: 4200, country: 'FR' };
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(sagaId);
        reject(new Error(`saga ${sagaId} not completed within ${SAGA_TIMEOUT_MS} ms`));
      }, SAGA_TIMEOUT_MS);
      waiting.set(sagaId, { resolve, reject, timer });
    });
    await db.tx(async (client) => {
      await client.query(
        "INSERT INTO orders (id, customer_id, total, country, status) VALUES ($1, $2, $3, $4, 'PENDING')",
        [data.orderId, data.customerId, data.total, data.country],
      );
      await client.query(
        "INSERT INTO saga (id, type, state, version, data) VALUES ($1, 'place-order', 'CHARGING', 0, $2)",
        [sagaId, data],
      );
      await client.query("INSERT INTO saga_transition (saga_id, seq, to_state) VALUES ($1, 0, 'CHARGING')", [
        sagaId,
      ]);
    });
    await broker.publish(
      QUEUES.payment,
      command(sagaId, 'ChargePayment', { orderId: data.orderId, customerId, amount: data.total }),
    );
    return done;
  };

  await broker.consume(QUEUES.replies, async (reply) => {
    const transition = TRANSITIONS[reply.type];
    if (!transition) throw new Error(`unexpected reply type ${reply.type}`);
    const data = await db.tx(async (client) => {
      const { rows } = await client.query<{ state: SagaState; version: number; data: SagaData }>(
        'SELECT state, version, data FROM saga WHERE id = $1',
        [reply.sagaId],
      );
      const saga = rows[0];
      if (!saga || saga.state !== transition.from) return undefined; // a duplicate or stale reply: nothing to do
      const next: SagaData = { ...saga.data, ...(reply.payload as Partial<SagaData>) };
      const updated = await client.query(
        'UPDATE saga SET state = $2, version = version + 1, data = $3, updated_at = now() WHERE id = $1 AND version = $4',
        [reply.sagaId, transition.to, next, saga.version],
      );
      if (updated.rowCount !== 1) throw new Error(`saga ${reply.sagaId} changed concurrently`);
      await client.query(
        'INSERT INTO saga_transition (saga_id, seq, from_state, to_state, message_id) VALUES ($1, $2, $3, $4, $5)',
        [reply.sagaId, saga.version + 1, transition.from, transition.to, reply.messageId],
      );
      if (transition.to === 'COMPLETED') {
        await client.query("UPDATE orders SET status = 'APPROVED', updated_at = now() WHERE id = $1", [
          next.orderId,
        ]);
      }
      return next;
    });
    if (!data) return;
    if (transition.next) {
      const [queue, type, payload] = transition.next(data);
      await broker.publish(queue, command(reply.sagaId, type, payload));
      return;
    }
    const waiter = waiting.get(reply.sagaId);
    if (waiter) {
      clearTimeout(waiter.timer);
      waiting.delete(reply.sagaId);
      waiter.resolve();
    }
  });

  serveControl({
    stats: async () => ({ ...counters, pgStatsFlushed: await forcePgStatsFlush(db.pool) }),
    startOne,
    shutdown: async () => {
      for (const [sagaId, w] of waiting) {
        clearTimeout(w.timer);
        w.reject(new Error(`shutting down before saga ${sagaId} completed`));
      }
      waiting.clear();
      await broker.close();
      await db.pool.end();
      return counters;
    },
  });
}

main().catch((err: unknown) => {
  log(`order failed to start: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
