/**
 * CPU per command of the library's participant path, in one process, against the same durable work written by hand
 * with `pg` — no broker (a transport that only counts), so what it measures is the library's own per-message code:
 * the batch transaction through TypeORM, the inbox row, the handler, the reply's outbox row, the relay. Far steadier
 * on a shared machine than latency. `node dist/bench/bench/participant-cpu.js` (after `nest build -p
 * bench/tsconfig.json`); `N` commands per measurement (default 3000), `ROUNDS` (default 3); database
 * `bench_participant_cpu` (re-created). Profile it with `node --cpu-prof …`. `SAMPLE=1`: the sample shop's payment
 * participant (apps/payment: payload class, credit debit and payment row through TypeORM), and by hand the same
 * statements with `pg`. `ONLY=library` or `ONLY=by-hand`: measure one side alone (a profile of just that side).
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import {
  HandleCommand,
  SagaModule,
  SagaParticipant,
  sagaEntities,
  sagaMigrations,
  type CommandContext,
  type SagaTransport,
} from '../libs/saga/src';
import type { BatchHandler, IncomingMessage, OutgoingMessage } from '../libs/saga/src/transport/transport';
import { pgConfig, recreateDatabase } from './lib/pg-stats';
import { PaymentModule, paymentEntities, paymentMigrations } from '../apps/payment/src/payment.module';
import { PaymentsService } from '../apps/payment/src/payments.service';

const DATABASE = 'bench_participant_cpu';

/** Hands the consumer's handler over to the bench and counts what the relay publishes. */
class CountingTransport implements SagaTransport {
  readonly name = 'counting';
  handler?: BatchHandler;
  published = 0;
  async connect(): Promise<void> {}
  async publish(messages: OutgoingMessage[]): Promise<void> {
    this.published += messages.length;
  }
  async consume(_target: unknown, handler: BatchHandler): Promise<void> {
    this.handler = handler;
  }
  async close(): Promise<void> {}
}

@SagaParticipant('payment')
class Payments {
  @HandleCommand('ChargePayment')
  async charge(cmd: { orderId: string }, { manager }: CommandContext): Promise<object> {
    const paymentId = randomUUID();
    await manager.query("INSERT INTO payment (id, order_id, status) VALUES ($1, $2, 'CHARGED')", [
      paymentId,
      cmd.orderId,
    ]);
    return { paymentId };
  }
}

function command(): IncomingMessage {
  return {
    redelivered: false,
    message: {
      messageId: randomUUID(),
      kind: 'command',
      type: 'ChargePayment',
      sagaId: randomUUID(),
      sagaType: 'place-order',
      step: 'charge',
      phase: 'invoke',
      attempt: 1,
      destination: 'payment',
      replyTo: 'order',
      payload: { orderId: randomUUID(), customerId: 'cpu-bench', amount: 1 },
      sentAt: new Date().toISOString(),
    },
  };
}

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 3000);
  /** SAMPLE=1: the sample shop's own payment participant (apps/payment: credit debit, TypeORM, payload class). */
  const sample = process.env.SAMPLE === '1';
  const rounds = Number(process.env.ROUNDS ?? 3);
  await recreateDatabase(DATABASE);
  const pool = new Pool({ ...pgConfig(DATABASE), max: 4 });
  await pool.query('CREATE TABLE payment (id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, status text)');
  await pool.query('CREATE TABLE processed_message (message_id uuid PRIMARY KEY, reply jsonb NOT NULL)');
  const transport = new CountingTransport();
  const c = pgConfig(DATABASE);

  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        host: c.host,
        port: c.port,
        username: c.user,
        password: typeof c.password === 'string' ? c.password : undefined,
        database: DATABASE,
        entities: [...sagaEntities, ...(sample ? paymentEntities : [])],
        migrations: [...sagaMigrations, ...(sample ? paymentMigrations : [])],
        migrationsRun: true,
      }),
      // BENCH_SAGA_IMPLICIT_JOIN=0: database.implicitJoin false (to measure what following the async context costs).
      SagaModule.forRoot({
        service: 'payment',
        transport,
        database: { implicitJoin: process.env.BENCH_SAGA_IMPLICIT_JOIN !== '0' },
      }),
      ...(sample ? [PaymentModule] : []),
    ],
    providers: sample ? [] : [Payments],
  })
  class ParticipantCpuRoot {}

  const app = await NestFactory.createApplicationContext(ParticipantCpuRoot, { logger: ['error', 'warn'] });
  await app.init();
  const handler = transport.handler!;
  if (sample) {
    const seed = [{ id: 'cpu-bench', creditLimit: 1e9 }];
    await app.get(PaymentsService).seedCustomers(app.get(DataSource).manager, seed);
  }

  const library = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await handler([command()]);
  };
  /** The baseline participant's work (bench/baseline/participant.ts): dedup row and business row, one transaction. */
  const byHand = async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const { message } = command();
      const reply = { messageId: randomUUID(), sagaId: message.sagaId, type: 'PaymentCharged', payload: {} };
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          'INSERT INTO processed_message (message_id, reply) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [message.messageId, reply],
        );
        if (sample) {
          // The sample's credit check and debit, as one statement (as the sample does it).
          await client.query(
            'UPDATE customers SET available_credit = available_credit - $1 WHERE id = $2 AND available_credit >= $1',
            [1, 'cpu-bench'],
          );
        }
        await client.query("INSERT INTO payment (id, order_id, status) VALUES ($1, $2, 'CHARGED')", [
          randomUUID(),
          (message.payload as { orderId: string }).orderId,
        ]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      JSON.stringify(reply);
    }
  };
  const measure = async (label: string, work: () => Promise<void>): Promise<void> => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await work();
    const used = process.cpuUsage(cpu);
    const wallUs = Number(process.hrtime.bigint() - start) / 1e3 / n;
    const cpuUs = (used.user + used.system) / n;
    const sysUs = used.system / n;
    process.stdout.write(
      `${label.padEnd(8)} ${cpuUs.toFixed(0)} µs CPU/command (${sysUs.toFixed(0)} system)  ${wallUs.toFixed(0)} µs wall\n`,
    );
  };

  const only = process.env.ONLY;
  if (only !== undefined && only !== 'library' && only !== 'by-hand')
    throw new Error(`ONLY must be 'library' or 'by-hand', got '${only}'`);
  const sides = [
    { label: 'library', work: library },
    { label: 'by hand', work: byHand },
  ].filter((s) => only === undefined || s.label === only.replace('-', ' '));
  for (const side of sides) await side.work(); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const side of sides) await measure(side.label, side.work);
  }
  await app.close();
  await pool.end();
  if (only !== 'by-hand' && transport.published < n)
    throw new Error(`only ${transport.published} replies were published`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
