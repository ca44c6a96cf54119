import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CRASH_AFTER_COMMIT_ENV } from '../../../apps/payment/src/crash-after-commit.failpoint';
import { OrderApi } from '../../../apps/monolith/src/demo/order-api';
import type { SagaMessage } from '../../../libs/saga/src/transport/message';
import { REJECT_REASON_HEADER } from '../../../libs/saga/src/transport/rabbitmq/rabbitmq.topology';
import { command, eventually, sleep } from '../../rabbitmq/rabbitmq.helpers';
import { ReplyProbe } from './support/reply-probe';
import { EXPECTED_TIMELINES, timeline } from './support/scripted-orders';
import { ServiceStack } from './support/service-stack';

/** The reply service the raw commands name in `replyTo`: this spec's probe. */
const PROBE = 'e2e-probe';
/** Longer than the transport's requeue delay (250 ms) and a relay round trip: a second reply would be here. */
const REDELIVERY_WINDOW_MS = 1_500;
const PAYMENT_INBOX = 'participant:payment';

/**
 * "No double effect per message", checked on the real payment process: a duplicated command, a crash between
 * the commit and the ack, and bad commands (dead-lettered with a reason), over the local RabbitMQ and PostgreSQL.
 */
describe('exactly-once effects per message (payment as a process, raw AMQP)', () => {
  const stack = new ServiceStack('once');
  let probe: ReplyProbe;
  let api: OrderApi;
  let commandQueue: string;
  const markerDir = mkdtempSync(join(tmpdir(), 'nestjs-saga-e2e-failpoint-'));
  /** The failpoint fires once the marker is gone: created here (disarmed), deleted by the crash test (armed). */
  const marker = join(markerDir, 'payment-crashed');

  beforeAll(async () => {
    writeFileSync(marker, 'disarmed until the crash test deletes this file\n');
    stack.extraReplyServices.push(PROBE);
    await stack.up({ payment: { [CRASH_AFTER_COMMIT_ENV]: marker } });
    api = new OrderApi(stack.url('order'));
    commandQueue = `${stack.prefix}.payment.commands`;
    probe = new ReplyProbe(stack.broker.channel, stack.prefix, PROBE);
    await probe.start();
  }, 180_000);

  afterAll(async () => {
    try {
      await probe?.stop();
      await stack.down();
    } finally {
      rmSync(markerDir, { recursive: true, force: true });
    }
  }, 60_000);

  /** A ChargePayment envelope as the order saga sends it, but answered to the probe. */
  const charge = (payload: Record<string, unknown>, overrides: Partial<SagaMessage> = {}) =>
    command('payment', {
      type: 'ChargePayment',
      sagaType: 'place-order',
      step: 'charge',
      replyTo: PROBE,
      payload,
      ...overrides,
    });

  /** Publishes straight to the payment command queue, persistent, as the transport would. */
  const publish = (message: SagaMessage) =>
    stack.broker.channel.sendToQueue(commandQueue, Buffer.from(JSON.stringify(message)), {
      persistent: true,
      contentType: 'application/json',
      messageId: message.messageId,
      type: message.type,
    });

  const paymentsOf = (orderId: string) =>
    stack.query<{ id: string; status: string; amount: string }>(
      'payment',
      'SELECT id, status, amount FROM payments WHERE order_id = $1',
      [orderId],
    );
  const inboxCount = async (app: 'payment' | 'order', consumer: string, messageId: string) =>
    Number(
      (
        await stack.query<{ n: string }>(
          app,
          'SELECT count(*) AS n FROM saga_inbox WHERE consumer = $1 AND message_id = $2',
          [consumer, messageId],
        )
      )[0].n,
    );
  /** The messages a service wrote to its outbox for this saga (a participant: its replies). */
  const outboxOf = async (app: 'payment' | 'order', sagaId: string) =>
    (
      await stack.query<{ body: string; sent_at: string | null }>(
        app,
        `SELECT body, sent_at FROM saga_outbox WHERE (body::jsonb)->>'sagaId' = $1 ORDER BY id`,
        [sagaId],
      )
    ).map((row) => ({ message: JSON.parse(row.body) as SagaMessage, sent: row.sent_at !== null }));

  describe('the same ChargePayment (same messageId) delivered twice', () => {
    it('again after it was processed: acknowledged without running the handler, no second reply', async () => {
      const orderId = randomUUID();
      const cmd = charge({ orderId, customerId: 'bob', amount: 20 });
      publish(cmd);
      const [reply] = await probe.waitFor(cmd.sagaId);
      expect(reply).toMatchObject({ kind: 'reply', outcome: 'success', type: 'ChargePayment' });
      publish(cmd);
      await eventually(async () => (await stack.broker.messageCount(commandQueue)) === 0, 5_000);
      await sleep(REDELIVERY_WINDOW_MS);
      expect(probe.for(cmd.sagaId)).toEqual([reply]);
      const { paymentId } = reply.payload as { paymentId: string };
      expect(await paymentsOf(orderId)).toEqual([{ id: paymentId, status: 'CHARGED', amount: '20.00' }]);
      expect(await inboxCount('payment', PAYMENT_INBOX, cmd.messageId)).toBe(1);
      // One reply written, and already sent: the outbox sweep has nothing left to publish again.
      expect(await outboxOf('payment', cmd.sagaId)).toEqual([{ message: reply, sent: true }]);
    }, 30_000);

    /**
     * Published back to back to a running service, the two copies usually (not always) reach the participant
     * in one batch; publishing them while payment is stopped makes that deterministic: on start the broker
     * delivers both at once, and the consumer hands them to the runtime as one batch.
     */
    describe('both copies in one batch (published back to back while payment is stopped)', () => {
      const orderId = randomUUID();
      const cmd = charge({ orderId, customerId: 'alice', amount: 10 });

      beforeAll(async () => {
        await stack.stop('payment');
        publish(cmd);
        publish(cmd);
        await stack.start('payment', { [CRASH_AFTER_COMMIT_ENV]: marker });
        await probe.waitFor(cmd.sagaId);
        await sleep(REDELIVERY_WINDOW_MS);
      }, 60_000);

      it('charges once: one payment row, one inbox row, the queue drained', async () => {
        expect(await paymentsOf(orderId)).toEqual([
          expect.objectContaining({ status: 'CHARGED', amount: '10.00' }),
        ]);
        expect(await inboxCount('payment', PAYMENT_INBOX, cmd.messageId)).toBe(1);
        expect(await stack.broker.messageCount(commandQueue)).toBe(0);
      });

      /**
       * Regression: `recordInbox` deduplicates the ids of a batch before inserting them, so a messageId present
       * twice in ONE batch used to be "fresh" for both copies: the handler ran twice and wrote two replies
       * (only the payment's business key, one payment per order, kept the charge single). Fixed in
       * `ParticipantRuntime.execute`, which now runs a messageId once per batch.
       */
      it('answers once: one reply received, one reply written', async () => {
        expect(probe.for(cmd.sagaId)).toHaveLength(1);
        expect(await outboxOf('payment', cmd.sagaId)).toEqual([
          { message: probe.for(cmd.sagaId)[0], sent: true },
        ]);
      });
    });
  });

  describe('bad commands, through the real participant runtime', () => {
    it('dead-letters an unknown type and an invalid payload with the reason, and keeps serving', async () => {
      const dlq = `${commandQueue}.dlq`;
      const unknownType = command('payment', { type: 'BrewCoffee', replyTo: PROBE, payload: { cups: 2 } });
      const invalidOrderId = randomUUID();
      const invalidPayload = charge({ orderId: invalidOrderId, customerId: 'alice', amount: -5 });
      publish(unknownType);
      publish(invalidPayload);

      const dead = await stack.broker.take(dlq, 2, 10_000);
      const reasons = Object.fromEntries(
        dead.map((m) => {
          const body = JSON.parse(m.content.toString('utf8')) as SagaMessage;
          return [body.messageId, String(m.properties.headers?.[REJECT_REASON_HEADER])];
        }),
      );
      expect(Object.keys(reasons).sort()).toEqual([unknownType.messageId, invalidPayload.messageId].sort());
      expect(reasons[unknownType.messageId]).toContain("unknown command type 'BrewCoffee'");
      expect(reasons[invalidPayload.messageId]).toMatch(/invalid payload for 'ChargePayment'.*amount/);
      expect(await stack.broker.messageCount(dlq)).toBe(0);

      // Nothing ran: no reply, no payment, no inbox row for either.
      expect(probe.for(unknownType.sagaId)).toEqual([]);
      expect(probe.for(invalidPayload.sagaId)).toEqual([]);
      expect(await paymentsOf(invalidOrderId)).toEqual([]);
      expect(await inboxCount('payment', PAYMENT_INBOX, invalidPayload.messageId)).toBe(0);

      // The service is still up and still consuming.
      expect(stack.isRunning('payment')).toBe(true);
      const valid = charge({ orderId: randomUUID(), customerId: 'alice', amount: 1 });
      publish(valid);
      const [reply] = await probe.waitFor(valid.sagaId);
      expect(reply.outcome).toBe('success');
    }, 30_000);
  });

  describe('a crash between the commit and the ack (TEST-ONLY failpoint in the payment app)', () => {
    it('after a restart the saga completes; the charge took effect once and was answered once', async () => {
      rmSync(marker); // arms the failpoint: the next committed charge kills the payment process
      const { orderId, sagaId } = await api.placeOrder({
        customerId: 'alice',
        amount: 100,
        country: 'FR',
        address: '1 rue de Rivoli, 75001 Paris',
      });
      const crashed = await stack.exited('payment', 20_000);
      expect(crashed).toEqual({ code: null, signal: 'SIGKILL' });
      expect(existsSync(marker)).toBe(true);

      // The crash window: the charge, its inbox row and its reply are committed; the reply was never
      // published and the command never acknowledged (the broker holds it again).
      const [chargeCommand] = (await outboxOf('order', sagaId))
        .map((o) => o.message)
        .filter((m) => m.type === 'ChargePayment');
      expect(chargeCommand).toBeDefined();
      expect(await paymentsOf(orderId)).toEqual([expect.objectContaining({ status: 'CHARGED' })]);
      expect(await inboxCount('payment', PAYMENT_INBOX, chargeCommand.messageId)).toBe(1);
      const [pendingReply, ...others] = await outboxOf('payment', sagaId);
      expect(others).toEqual([]);
      expect(pendingReply).toMatchObject({ sent: false, message: { kind: 'reply', outcome: 'success' } });
      const during = await api.saga(sagaId);
      expect(during.status).toBe('RUNNING');
      expect(timeline(during)).toEqual(['create invoke succeeded', 'charge invoke sent']);
      await eventually(async () => (await stack.broker.messageCount(commandQueue)) === 1, 5_000);

      // Restart without the failpoint: the command comes again (a duplicate now), the reply goes out.
      await stack.start('payment');
      const saga = await api.waitForSaga(sagaId, 30_000);
      expect(saga.status).toBe('COMPLETED');
      expect(await api.orderStatus(orderId)).toBe('APPROVED');
      expect(timeline(saga)).toEqual(EXPECTED_TIMELINES.alice);
      expect(timeline(saga).filter((line) => line === 'charge reply succeeded')).toHaveLength(1);

      expect(await paymentsOf(orderId)).toHaveLength(1);
      expect(await inboxCount('payment', PAYMENT_INBOX, chargeCommand.messageId)).toBe(1);
      // The redelivered command ran no handler: still the one reply, now sent, applied once by the coordinator.
      // The relay marks published rows sent in batches (relay.markDelayMs after the publish): wait for it, since
      // the saga can complete before that.
      await eventually(async () => (await outboxOf('payment', sagaId)).every((row) => row.sent), 5_000);
      expect(await outboxOf('payment', sagaId)).toEqual([{ message: pendingReply.message, sent: true }]);
      expect(await inboxCount('order', 'coordinator:order', pendingReply.message.messageId)).toBe(1);
      await eventually(async () => (await stack.broker.messageCount(commandQueue)) === 0, 5_000);
    }, 60_000);
  });
});
