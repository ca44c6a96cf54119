import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SagaManager } from 'nestjs-saga';
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
 * Runs the scripted orders through the monolith (in-process transport) on a fresh SQLite file, prints
 * the outcomes and returns whether they matched the expectations.
 */
export async function runMonolithDemo(write: (line: string) => void = console.log): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'nestjs-saga-demo-'));
  let app: INestApplicationContext | undefined;
  try {
    app = await NestFactory.createApplicationContext(
      MonolithModule.forRoot({
        serviceName: 'shop',
        database: { kind: 'sqlite', file: join(dir, 'shop.sqlite') },
      }),
      { logger: ['error', 'warn'], abortOnError: false },
    );
    const sagas = app.get(SagaManager);
    const orders = app.get(OrdersService);
    const outcomes: DemoOutcome[] = [];
    for (const scenario of DEMO_SCENARIOS) {
      const orderId = randomUUID();
      const sagaId = await sagas.start(PlaceOrderSaga, { ...scenario.order, orderId });
      const saga = await sagas.waitFor(sagaId, { timeoutMs: 15_000 });
      const order = await orders.findById(orderId);
      outcomes.push({ scenario, orderId, sagaId, saga, orderStatus: order?.status ?? null });
    }
    return printReport('place-order demo: monolith, in-process transport, SQLite', outcomes, write);
  } finally {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
