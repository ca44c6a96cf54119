/**
 * The distributed demo: the order, payment and shipping services as three Node processes, each with its
 * own PostgreSQL database, talking through RabbitMQ. It places the same scripted orders as the monolith
 * demo through `POST /orders`, follows them with `GET /sagas/:id`, prints the same report and exits
 * non-zero when an order did not end as expected. Run it with `npm run demo:distributed` (it builds first).
 *
 * Environment: PG_ADMIN_URL (default postgres://postgres:postgres@127.0.0.1:5432/postgres), AMQP_URL
 * (default amqp://guest:guest@127.0.0.1:5672), DEMO_BASE_PORT (default 3101), DEMO_VERBOSE=1 to print
 * the services' logs even on success. The databases saga_order, saga_payment and saga_shipping are
 * re-created on every run.
 */
import { join } from 'node:path';
import { OrderApi } from '../apps/monolith/src/demo/order-api';
import { type DemoOutcome, printReport } from '../apps/monolith/src/demo/report';
import { DEMO_SCENARIOS } from '../apps/monolith/src/demo/scenarios';
import { freshDatabases } from './lib/postgres';
import { printOutput, type RunningService, startService, stopService, waitHealthy } from './lib/services';

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BASE_PORT = Number(process.env.DEMO_BASE_PORT ?? 3101);
/** Exchanges and queues of their own, so the demo never shares queues with tests on the same broker. */
const QUEUE_PREFIX = 'saga-demo';
const SERVICES = ['order', 'payment', 'shipping'] as const;

/** Where `nest build <app>` puts an app's entry point (rootDir is the repository root). */
const mainJs = (app: string) => join(process.cwd(), 'dist', 'apps', app, 'apps', app, 'src', 'main.js');

async function placeScriptedOrders(api: OrderApi): Promise<DemoOutcome[]> {
  const placed = [];
  for (const scenario of DEMO_SCENARIOS) placed.push({ scenario, ...(await api.placeOrder(scenario.order)) });
  const outcomes: DemoOutcome[] = [];
  for (const { scenario, orderId, sagaId } of placed) {
    const saga = await api.waitForSaga(sagaId, 60_000);
    outcomes.push({ scenario, orderId, sagaId, saga, orderStatus: await api.orderStatus(orderId) });
  }
  return outcomes;
}

async function main(): Promise<boolean> {
  const urls = await freshDatabases(
    PG_ADMIN_URL,
    SERVICES.map((s) => `saga_${s}`),
  );
  const services: RunningService[] = SERVICES.map((name, i) =>
    startService(name, mainJs(name), BASE_PORT + i, {
      SERVICE_NAME: name,
      DATABASE_URL: urls[`saga_${name}`],
      AMQP_URL,
      SAGA_QUEUE_PREFIX: QUEUE_PREFIX,
    }),
  );
  let ok = false;
  try {
    await Promise.all(services.map((s) => waitHealthy(s)));
    console.log(`services up: ${services.map((s) => `${s.name} :${s.port}`).join(', ')}`);
    const outcomes = await placeScriptedOrders(new OrderApi(`http://127.0.0.1:${BASE_PORT}`));
    ok = printReport('place-order demo: 3 services, RabbitMQ, PostgreSQL', outcomes, console.log);
    return ok;
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
    if (!ok || process.env.DEMO_VERBOSE === '1') for (const s of services) printOutput(s, console.log);
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
