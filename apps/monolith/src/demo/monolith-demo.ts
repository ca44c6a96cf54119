import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SagaManager, uuidv7 } from 'nestjs-saga';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrdersService } from '../../../order/src/orders/orders.service';
import { PlaceOrderSaga } from '../../../order/src/place-order/place-order.saga';
import { MonolithModule } from '../monolith.module';
import { type DemoOutcome, printReport } from './report';
import { DEMO_SCENARIOS } from './scenarios';

/**
 * Runs the scripted orders through the monolith (in-process transport) on a fresh SQLite file — or, when
 * `DATABASE_URL` is a `postgres://` URL, on a temporary database created on that server and dropped after —
 * prints the outcomes and returns whether they matched the expectations.
 */
export async function runMonolithDemo(
  write: (line: string) => void = console.log,
  databaseUrl = process.env.DATABASE_URL,
): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'nestjs-saga-demo-'));
  const postgres = databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl) ? databaseUrl : undefined;
  const temporary = postgres ? await createTemporaryDatabase(postgres) : undefined;
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(
      MonolithModule.forRoot({
        serviceName: 'shop',
        database: temporary
          ? { kind: 'postgres', url: temporary.url }
          : { kind: 'sqlite', file: join(dir, 'shop.sqlite') },
      }),
      { logger: ['error', 'warn'], abortOnError: false },
    );
    const sagas = app.get(SagaManager);
    const orders = app.get(OrdersService);
    const outcomes: DemoOutcome[] = [];
    for (const scenario of DEMO_SCENARIOS) {
      const orderId = uuidv7();
      const sagaId = await sagas.start(PlaceOrderSaga, { ...scenario.order, orderId });
      const saga = await sagas.waitFor(sagaId, { timeoutMs: 15_000 });
      const order = await orders.findById(orderId);
      outcomes.push({ scenario, orderId, sagaId, saga, orderStatus: order?.status ?? null });
    }
    const where = temporary ? `PostgreSQL (temporary database ${temporary.name})` : 'SQLite';
    return printReport(`place-order demo: monolith, in-process transport, ${where}`, outcomes, write);
  } finally {
    await app?.close();
    await temporary?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh database on the server of `serverUrl`, so every run starts from the seeded customers. */
async function createTemporaryDatabase(
  serverUrl: string,
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const { Client } = await import('pg');
  const name = `saga_demo_${randomUUID().slice(0, 8)}`;
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const run = async (sql: string) => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
