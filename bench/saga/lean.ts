/**
 * The `saga-lean` variant: the library, distributed exactly as `saga`, but with the hand-written baseline's business
 * work instead of the sample shop's — plain SQL statements (one INSERT or UPDATE per step, and the payment's credit
 * check and debit), no TypeORM query builder, no payload classes (so no validation). Same steps, same messages, same
 * three processes and databases.
 * It is not the benchmark's subject (that is the sample, `saga`): it tells the library's own cost from the sample's.
 *
 * One entry for the three processes: `BENCH_ROLE` = `order` (drives the load), `payment` or `shipping`.
 */
import { Module } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  Compensation,
  HandleCommand,
  OnReply,
  SagaManager,
  SagaOrchestration,
  SagaParticipant,
  Step,
  StepFailure,
  uuidv7,
  type CommandContext,
  type SagaContext,
} from '../../libs/saga/src';
import { serveControl } from '../lib/control';
import { customerCycle, customerSeedParams } from '../lib/customers';
import { runEntry, SAGA_DATABASES, sagaTransportOptions } from './common';
import { SagaDriver, serveDriverControl } from './driver';
import { CountingRabbitMqTransport } from './instrumentation';
import { postgresUrl, startBenchService } from './service';

/** The baseline's tables (bench/baseline), created in each of the variant's databases. */
class CreateLeanTables1760000009000 implements MigrationInterface {
  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE TABLE lean_orders (
      id uuid PRIMARY KEY, customer_id text NOT NULL, total integer NOT NULL, country text NOT NULL,
      status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`);
    await runner.query(`CREATE TABLE lean_payment (
      id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, amount integer NOT NULL, status text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await runner.query('CREATE TABLE lean_customer (id text PRIMARY KEY, available_credit bigint NOT NULL)');
    await runner.query(
      'INSERT INTO lean_customer (id, available_credit) SELECT unnest($1::text[]), $2',
      customerSeedParams(),
    );
    await runner.query(`CREATE TABLE lean_shipment (
      id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, country text NOT NULL, status text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE lean_shipment, lean_customer, lean_payment, lean_orders');
  }
}

interface LeanOrder {
  orderId: string;
  customerId: string;
  total: number;
  country: string;
  paymentId?: string;
  shipmentId?: string;
}
type Ctx = SagaContext<LeanOrder>;

@SagaOrchestration({ name: 'lean-order', sideEffects: false })
class LeanOrderSaga {
  @Step(1)
  async create({ manager, data }: Ctx): Promise<void> {
    await manager.query(
      "INSERT INTO lean_orders (id, customer_id, total, country, status) VALUES ($1, $2, $3, $4, 'PENDING')",
      [data.orderId, data.customerId, data.total, data.country],
    );
  }

  @Compensation('create')
  async reject({ manager, data }: Ctx): Promise<void> {
    await manager.query("UPDATE lean_orders SET status = 'REJECTED', updated_at = now() WHERE id = $1", [
      data.orderId,
    ]);
  }

  @Step(2, { participant: 'payment', command: 'ChargePayment' })
  charge({ data }: Ctx): object {
    return { orderId: data.orderId, customerId: data.customerId, amount: data.total };
  }

  @Compensation('charge', { command: 'RefundPayment' })
  refund({ data }: Ctx): object {
    return { orderId: data.orderId };
  }

  @OnReply('charge')
  charged(ctx: Ctx, reply: { paymentId: string }): void {
    ctx.data.paymentId = reply.paymentId;
  }

  @Step(3, { participant: 'shipping', command: 'ScheduleShipment', pivot: true })
  ship({ data }: Ctx): object {
    return { orderId: data.orderId, country: data.country };
  }

  @OnReply('ship')
  shipped(ctx: Ctx, reply: { shipmentId: string }): void {
    ctx.data.shipmentId = reply.shipmentId;
  }

  @Step(4)
  async approve({ manager, data }: Ctx): Promise<void> {
    await manager.query("UPDATE lean_orders SET status = 'APPROVED', updated_at = now() WHERE id = $1", [
      data.orderId,
    ]);
  }
}

@SagaParticipant('payment')
class LeanPayment {
  @HandleCommand('ChargePayment', { sideEffects: false })
  async charge(
    cmd: { orderId: string; customerId: string; amount: number },
    { manager }: CommandContext,
  ): Promise<object> {
    const paymentId = uuidv7();
    // TypeORM answers an UPDATE on PostgreSQL with [rows, affected].
    const [, affected] = await manager.query<[unknown, number]>(
      'UPDATE lean_customer SET available_credit = available_credit - $2 WHERE id = $1 AND available_credit >= $2',
      [cmd.customerId, cmd.amount],
    );
    if (affected !== 1) throw new StepFailure(`customer ${cmd.customerId}: unknown or not enough credit`);
    await manager.query(
      "INSERT INTO lean_payment (id, order_id, amount, status) VALUES ($1, $2, $3, 'CHARGED')",
      [paymentId, cmd.orderId, cmd.amount],
    );
    return { paymentId };
  }

  @HandleCommand('RefundPayment', { sideEffects: false })
  async refund(cmd: { orderId: string }, { manager }: CommandContext): Promise<object> {
    await manager.query("UPDATE lean_payment SET status = 'REFUNDED' WHERE order_id = $1", [cmd.orderId]);
    return {};
  }
}

@SagaParticipant('shipping')
class LeanShipping {
  @HandleCommand('ScheduleShipment', { sideEffects: false })
  async schedule(cmd: { orderId: string; country: string }, { manager }: CommandContext): Promise<object> {
    const shipmentId = uuidv7();
    await manager.query(
      "INSERT INTO lean_shipment (id, order_id, country, status) VALUES ($1, $2, $3, 'SCHEDULED')",
      [shipmentId, cmd.orderId, cmd.country],
    );
    return { shipmentId };
  }
}

@Module({ providers: [LeanOrderSaga] })
class LeanOrderModule {}

@Module({ providers: [LeanPayment] })
class LeanPaymentModule {}

@Module({ providers: [LeanShipping] })
class LeanShippingModule {}

const ROLES = { order: LeanOrderModule, payment: LeanPaymentModule, shipping: LeanShippingModule } as const;

runEntry('lean', async () => {
  const role = process.env.BENCH_ROLE as keyof typeof ROLES;
  if (!ROLES[role]) throw new Error(`BENCH_ROLE must be order, payment or shipping, got '${String(role)}'`);
  const service = await startBenchService({
    service: role,
    databaseUrl: postgresUrl(SAGA_DATABASES[role]),
    schema: { entities: [], migrations: [CreateLeanTables1760000009000] },
    modules: [ROLES[role]],
    transport: (counters) => new CountingRabbitMqTransport(sagaTransportOptions(role), counters),
  });
  if (role !== 'order') {
    serveControl({ stats: () => service.stats(), shutdown: () => service.close() });
    return;
  }
  const nextCustomer = customerCycle();
  const driver = new SagaDriver(service.app.get(SagaManager), LeanOrderSaga, (): LeanOrder => ({
    orderId: uuidv7(),
    customerId: nextCustomer(),
    total: 4200,
    country: 'FR',
  }));
  serveDriverControl(service, driver);
});
