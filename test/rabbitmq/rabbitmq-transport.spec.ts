import { Socket } from 'node:net';
import { MessageTooLargeError, TransportError } from '../../libs/saga/src/errors/saga.errors';
import { RabbitMqTransport, rabbitMqTransport } from '../../libs/saga/src/transport/rabbitmq';
import type { IncomingMessage } from '../../libs/saga/src/transport/transport';
import {
  AMQP_URL,
  RawBroker,
  Recorder,
  captureLogs,
  command,
  deferred,
  eventually,
  outgoing,
  reply,
  sleep,
  uniquePrefix,
} from './rabbitmq.helpers';

const prefix = uniquePrefix();
const participants = [
  'payment',
  'shipping',
  'inventory',
  'batch',
  'acked',
  'oversize',
  'replicated',
  'parallel',
];
const services = ['order'];

describe('RabbitMqTransport (real broker)', () => {
  let broker: RawBroker;
  let transport: RabbitMqTransport;
  const transports: RabbitMqTransport[] = [];

  function newTransport(options: Partial<Parameters<typeof rabbitMqTransport>[0]> = {}): RabbitMqTransport {
    const t = rabbitMqTransport({ url: AMQP_URL, prefix, connectTimeoutMs: 5_000, ...options });
    transports.push(t);
    return t;
  }

  beforeAll(async () => {
    captureLogs();
    broker = await RawBroker.open();
    transport = newTransport({ concurrency: 1 });
    await transport.connect({ participants: ['payment', 'batch', 'oversize'], replies: 'order' });
  });

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await broker?.deleteTopology(prefix, participants, services);
    await broker?.close();
    jest.restoreAllMocks();
  });

  it('routes a command to the participant queue and a reply to the service reply queue', async () => {
    const payment = new Recorder();
    const order = new Recorder();
    await transport.consume({ commandsFor: 'payment' }, payment.handler);
    await transport.consume({ repliesFor: 'order' }, order.handler);

    const cmd = command('payment', {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    const rep = reply('order', { type: 'ChargePayment', payload: { paymentId: 'p-1' } });
    await transport.publish([outgoing(cmd), outgoing(rep)]);

    await eventually(() => payment.messages.length === 1 && order.messages.length === 1);
    expect(payment.messages).toEqual<IncomingMessage[]>([{ message: cmd, redelivered: false }]);
    expect(order.messages).toEqual<IncomingMessage[]>([{ message: rep, redelivered: false }]);
    await sleep(50);
    expect(payment.messages).toHaveLength(1);
    expect(order.messages).toHaveLength(1);
  });

  it('publishes persistent JSON with the envelope id, type and traceparent, body unchanged', async () => {
    // No consumer and no connect() for 'inventory': the queue is declared on the first publish to it.
    const cmd = command('inventory', { type: 'ReserveStock', traceparent: '00-abc-def-01' });
    const body = JSON.stringify(cmd, null, 1); // not how the transport would serialise it: must not be re-encoded
    await transport.publish([{ message: cmd, body }]);

    const [msg] = await broker.take(`${prefix}.inventory.commands`, 1);
    expect(msg.content.toString('utf8')).toBe(body);
    expect(msg.fields.exchange).toBe(`${prefix}.commands`);
    expect(msg.fields.routingKey).toBe('inventory');
    expect(msg.properties).toMatchObject({
      deliveryMode: 2,
      contentType: 'application/json',
      messageId: cmd.messageId,
      type: 'ReserveStock',
      headers: { traceparent: '00-abc-def-01' },
    });
  });

  it('resolves publish only once the broker has confirmed (and enqueued) the whole batch', async () => {
    const messages = Array.from({ length: 20 }, () => outgoing(command('shipping')));
    await transport.publish(messages);
    // Read at once, on another connection: every message must already be in the queue.
    expect(await broker.messageCount(`${prefix}.shipping.commands`)).toBe(20);
  });

  it('hands the messages that arrive together to the handler in batches, one batch at a time', async () => {
    const ids = new Set<string>();
    const messages = Array.from({ length: 50 }, () => outgoing(command('batch')));
    messages.forEach((m) => ids.add(m.message.messageId));
    await transport.publish(messages); // queued before the consumer starts

    const sizes: number[] = [];
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    await transport.consume({ commandsFor: 'batch' }, async (batch) => {
      maxActive = Math.max(maxActive, ++active);
      sizes.push(batch.length);
      seen.push(...batch.map((m) => m.message.messageId));
      await sleep(5);
      active--;
      return batch.map(() => ({ kind: 'ack' as const }));
    });

    await eventually(() => seen.length >= 50);
    expect(sizes.length).toBeLessThan(50);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64);
    expect(maxActive).toBe(1);
    expect(new Set(seen)).toEqual(ids);
    await eventually(async () => (await broker.messageCount(`${prefix}.batch.commands`)) === 0);
  });

  it('acks a whole batch at once, runs at most `concurrency` batches, and nothing acked comes back', async () => {
    const t = newTransport({ concurrency: 3, prefetch: 8 });
    await t.connect({ participants: ['acked'] });
    const messages = Array.from({ length: 40 }, () => outgoing(command('acked')));
    await t.publish(messages);
    const seen = new Set<string>();
    const sizes: number[] = [];
    let active = 0;
    let maxActive = 0;
    await t.consume({ commandsFor: 'acked' }, async (batch) => {
      maxActive = Math.max(maxActive, ++active);
      sizes.push(batch.length);
      batch.forEach((m) => seen.add(m.message.messageId));
      await sleep(5);
      active--;
      return batch.map(() => ({ kind: 'ack' as const }));
    });
    await eventually(() => seen.size >= 40);
    expect(Math.max(...sizes)).toBeGreaterThan(1); // the multiple-ack path ran
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8);
    expect(maxActive).toBeLessThanOrEqual(3);
    await t.close(); // unacknowledged deliveries would be requeued now
    await sleep(200);
    expect(await broker.messageCount(`${prefix}.acked.commands`)).toBe(0);
  });

  it('starts a batch beside a running one only when at least 8 messages wait for it, and shares them out', async () => {
    const t = newTransport({ concurrency: 2, prefetch: 64 });
    await t.connect({ participants: ['parallel'] });
    const sizes: number[] = [];
    const release = deferred<void>();
    await t.consume({ commandsFor: 'parallel' }, async (batch) => {
      sizes.push(batch.length);
      if (sizes.length === 1) await release.promise; // the first batch keeps running
      return batch.map(() => ({ kind: 'ack' as const }));
    });
    await t.publish([outgoing(command('parallel'))]);
    await eventually(() => sizes.length === 1);
    await t.publish(Array.from({ length: 5 }, () => outgoing(command('parallel'))));
    await sleep(300);
    expect(sizes).toEqual([1]); // 5 waiting: not worth a second transaction
    await t.publish(Array.from({ length: 5 }, () => outgoing(command('parallel'))));
    await eventually(() => sizes.length === 2);
    expect(sizes[1]).toBeGreaterThanOrEqual(8); // 10 waiting (or fewer, had some arrived later): one batch of them
    release.resolve();
    await eventually(() => sizes.reduce((a, b) => a + b, 0) === 11);
    await t.close();
  });

  it('declares quorum queues when asked, dead-letter queue included', async () => {
    const t = newTransport({ queueType: 'quorum' });
    await t.connect({ participants: ['replicated'] });
    const recorder = new Recorder();
    await t.consume({ commandsFor: 'replicated' }, async (batch) => {
      recorder.batches.push(batch);
      return batch.map(() => ({ kind: 'reject' as const, reason: 'no handler' }));
    });
    const cmd = command('replicated');
    await t.publish([outgoing(cmd)]);
    const [dead] = await broker.take(`${prefix}.replicated.commands.dlq`, 1);
    expect(dead.properties.messageId).toBe(cmd.messageId);
    // A quorum queue refuses a classic redeclaration: proof of its type without the management API.
    const probe = await RawBroker.open();
    await expect(
      probe.channel.assertQueue(`${prefix}.replicated.commands`, {
        durable: true,
        arguments: {
          'x-queue-type': 'classic',
          'x-dead-letter-exchange': `${prefix}.dlx`,
          'x-dead-letter-routing-key': `${prefix}.replicated.commands`,
        },
      }),
    ).rejects.toThrow(/inequivalent arg 'x-queue-type'/);
    await probe.close();
  });

  it('refuses an oversized message with MessageTooLargeError and publishes nothing of the batch', async () => {
    const small = rabbitMqTransport({ url: AMQP_URL, prefix, maxMessageBytes: 1_000 });
    transports.push(small);
    await small.connect({ participants: ['oversize'] });
    const fine = outgoing(command('oversize'));
    const big = outgoing(command('oversize', { payload: { blob: 'x'.repeat(2_000) } }));

    const attempt = small.publish([fine, big]);
    await expect(attempt).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(attempt).rejects.toMatchObject({ messageId: big.message.messageId, limit: 1_000 });
    await sleep(100);
    expect(await broker.messageCount(`${prefix}.oversize.commands`)).toBe(0);
  });

  it('sets TCP_NODELAY on its socket (Nagle would add ~40 ms per confirm and ack)', async () => {
    // amqplib calls socket.setNoDelay(options.noDelay) on every connection it opens (false by default).
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    try {
      const t = newTransport();
      await t.connect({ participants: [] });
      const calls = setNoDelay.mock.calls.map(([enable]) => enable);
      expect(calls).toEqual([true]);
      const socket = setNoDelay.mock.contexts[0] as Socket;
      expect(socket.remotePort).toBe(Number(new URL(AMQP_URL).port || 5672));
      await t.close();
    } finally {
      setNoDelay.mockRestore();
    }
  });

  it('sends what one turn of the event loop publishes in one socket write (amqplib writes each frame group alone)', async () => {
    const t = newTransport();
    await t.connect({ participants: [] });
    type Internals = { manager: { connection: { connection: { stream: Socket } } } };
    const socket = (t as unknown as Internals).manager.connection.connection.stream;
    const writes = jest.spyOn(socket, 'write');
    const writevs = jest.spyOn(socket as unknown as { _writev: () => void }, '_writev');
    try {
      await t.publish(Array.from({ length: 20 }, () => outgoing(command('shipping'))));
      // 20 publishes, each written to the socket while it is corked, then flushed in one writev.
      expect(writes.mock.calls.length).toBeGreaterThanOrEqual(20);
      expect(writevs.mock.calls.length).toBe(1);
    } finally {
      writes.mockRestore();
      writevs.mockRestore();
      await t.close();
    }
  });

  it('writes a batch of publishes to the socket before publish() first yields, not in a later turn', async () => {
    const t = newTransport();
    await t.connect({ participants: [] });
    type Internals = { manager: { connection: { connection: { stream: Socket } } } };
    const socket = (t as unknown as Internals).manager.connection.connection.stream;
    try {
      await t.publish([outgoing(command('shipping'))]); // declares the queue: the next publish goes straight out
      const batch = [outgoing(command('shipping')), outgoing(command('shipping'))];
      const before = socket.bytesWritten;
      const publishing = t.publish(batch);
      // Synchronously after the call: amqplib alone would write these frames in the next check phase.
      const written = socket.bytesWritten - before;
      await publishing;
      expect(written).toBeGreaterThanOrEqual(batch[0].body.length + batch[1].body.length);
    } finally {
      await t.close();
    }
  });

  it('fails connect() with a TransportError when the broker cannot be reached', async () => {
    const t = rabbitMqTransport({ url: 'amqp://guest:secret@127.0.0.1:1', connectTimeoutMs: 300, prefix });
    const attempt = t.connect({ participants: ['payment'] });
    await expect(attempt).rejects.toBeInstanceOf(TransportError);
    await expect(attempt).rejects.toThrow(/127\.0\.0\.1:1/);
    await expect(attempt).rejects.not.toThrow(/secret/);
    await t.close();
  });

  it('fails connect() at once, naming the cause, when the broker refuses the credentials', async () => {
    const url = new URL(AMQP_URL);
    url.password = 'wrong-password';
    const t = rabbitMqTransport({ url: url.toString(), connectTimeoutMs: 20_000, prefix });
    const started = Date.now();
    await expect(t.connect({ participants: [] })).rejects.toThrow(/ACCESS.REFUSED/);
    expect(Date.now() - started).toBeLessThan(20_000);
    await t.close();
  });

  it('closes idempotently, right after consuming, with no unhandled rejection', async () => {
    // Jest fails the running test on an unhandled rejection (such as amqplib's "Channel ended, no reply will be
    // forthcoming" when a channel closes under a pending RPC), so the pause at the end lets a late one surface here.
    const t = newTransport();
    await t.connect({ participants: ['payment'], replies: 'order' });
    await t.consume({ commandsFor: 'payment' }, new Recorder().handler);
    await t.consume({ repliesFor: 'order' }, new Recorder().handler);

    const first = t.close();
    const second = t.close();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await t.close();
    await expect(t.publish([outgoing(command('payment'))])).rejects.toBeInstanceOf(TransportError);
    await expect(t.connect({ participants: [] })).rejects.toBeInstanceOf(TransportError);
    await rabbitMqTransport({ url: AMQP_URL, prefix }).close(); // never connected
    await sleep(200);
  });

  it('closes cleanly while connect() and consume() are still in progress', async () => {
    const t = newTransport();
    const connecting = t.connect({ participants: ['payment'] });
    const closing = t.close();
    await expect(connecting).rejects.toBeInstanceOf(TransportError);
    await closing;

    const u = newTransport();
    await u.connect({ participants: ['payment'] });
    const consuming = u.consume({ commandsFor: 'payment' }, new Recorder().handler);
    await u.close();
    await consuming.catch(() => undefined); // either subscribed then cancelled, or refused: never left dangling
    await sleep(200);
  });
});
