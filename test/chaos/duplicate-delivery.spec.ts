import { Injectable, Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { HandleCommand, SagaModule, SagaParticipant, sagaEntities, sagaMigrations } from 'nestjs-saga';
import { rabbitMqTransport, type RabbitMqTransport } from 'nestjs-saga/rabbitmq';
import {
  AMQP_URL,
  RawBroker,
  command,
  eventually,
  outgoing,
  sleep,
  uniquePrefix,
} from '../rabbitmq/rabbitmq.helpers';
import { ensurePgDatabase } from '../support/databases';

/**
 * Found by the chaos test's analysis: the outbox relay publishes at least once (a process killed between the
 * publish and marking the row sent, a failed mark after a database drop: the sweep publishes the row again), so a
 * participant's queue can hold two copies of one command. When both arrive in the same batch, the inbox statement
 * records the id once and reports neither as a duplicate: the handler used to run twice, in one transaction, with
 * two replies — a double effect for any handler that is not idempotent by itself.
 */
@Injectable()
class Effects {
  count = 0;
}

@SagaParticipant('counter')
class CounterParticipant {
  constructor(private readonly effects: Effects) {}

  @HandleCommand('Count')
  count(): { count: number } {
    this.effects.count++; // not idempotent on purpose
    return { count: this.effects.count };
  }
}

describe('a command delivered twice in one batch (RabbitMQ, PostgreSQL)', () => {
  const prefix = uniquePrefix();
  let broker: RawBroker;
  let moduleRef: TestingModule | undefined;
  let publisher: RabbitMqTransport | undefined;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    broker = await RawBroker.open();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await publisher?.close();
    await broker?.deleteTopology(prefix, ['counter'], ['order']);
    await broker?.close();
  });

  it('runs the handler once and replies once', async () => {
    // Two copies of one message wait in the queue before the participant starts, as after a relay re-publish.
    publisher = rabbitMqTransport({ url: AMQP_URL, prefix, connectTimeoutMs: 5_000 });
    await publisher.connect({ participants: ['counter'], replies: 'order' });
    const cmd = command('counter', { type: 'Count', sagaId: randomUUID(), replyTo: 'order', payload: {} });
    await publisher.publish([outgoing(cmd), outgoing(cmd)]);
    expect(await broker.messageCount(`${prefix}.counter.commands`)).toBe(2);

    const url = await ensurePgDatabase('saga_chaos_duplicate_test');
    moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url,
          entities: [...sagaEntities],
          migrations: [...sagaMigrations],
          migrationsRun: true,
        }),
        SagaModule.forRoot({
          service: 'counter-app',
          transport: rabbitMqTransport({ url: AMQP_URL, prefix, connectTimeoutMs: 5_000 }),
        }),
      ],
      providers: [CounterParticipant, Effects],
    }).compile();
    await moduleRef.init();

    await eventually(async () => (await broker.messageCount(`${prefix}.counter.commands`)) === 0);
    await sleep(300);
    const replies = await moduleRef
      .get(DataSource)
      .query<{ n: number }[]>(`SELECT count(*)::int AS n FROM saga_outbox WHERE body LIKE $1`, [
        `%${cmd.sagaId}%`,
      ]);
    expect({ handlerRuns: moduleRef.get(Effects).count, replies: replies[0].n }).toEqual({
      handlerRuns: 1,
      replies: 1,
    });
  });
});
