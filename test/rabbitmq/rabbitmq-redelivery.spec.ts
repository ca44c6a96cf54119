import { Socket } from 'node:net';
import { RabbitMqTransport, rabbitMqTransport } from '../../libs/saga/src/transport/rabbitmq';
import type { Disposition, IncomingMessage } from '../../libs/saga/src/transport/transport';
import {
  AMQP_URL,
  RawBroker,
  Recorder,
  captureLogs,
  command,
  deferred,
  eventually,
  outgoing,
  uniquePrefix,
} from './rabbitmq.helpers';

const prefix = uniquePrefix();
const participants = ['retry', 'throws', 'malformed', 'crash', 'slow'];

describe('RabbitMqTransport redelivery (real broker)', () => {
  let broker: RawBroker;
  let publisher: RabbitMqTransport;
  const transports: RabbitMqTransport[] = [];

  function newTransport(options: Partial<Parameters<typeof rabbitMqTransport>[0]> = {}): RabbitMqTransport {
    const t = rabbitMqTransport({
      url: AMQP_URL,
      prefix,
      connectTimeoutMs: 5_000,
      retryDelayMs: 20,
      ...options,
    });
    transports.push(t);
    return t;
  }

  beforeAll(async () => {
    captureLogs();
    broker = await RawBroker.open();
    publisher = newTransport();
    await publisher.connect({ participants });
  });

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await broker?.deleteTopology(prefix, participants, []);
    await broker?.close();
    jest.restoreAllMocks();
  });

  it('redelivers a message with a retry disposition, marked redelivered', async () => {
    const deliveries: IncomingMessage[] = [];
    await publisher.consume({ commandsFor: 'retry' }, async (batch) => {
      deliveries.push(...batch);
      return batch.map((m): Disposition => (m.redelivered ? { kind: 'ack' } : { kind: 'retry' }));
    });
    const cmd = command('retry');
    await publisher.publish([outgoing(cmd)]);

    await eventually(() => deliveries.length === 2);
    expect(deliveries.map((d) => [d.message.messageId, d.redelivered])).toEqual([
      [cmd.messageId, false],
      [cmd.messageId, true],
    ]);
    await eventually(async () => (await broker.messageCount(`${prefix}.retry.commands`)) === 0);
  });

  it('redelivers the whole batch when the handler throws', async () => {
    const deliveries: IncomingMessage[] = [];
    await publisher.consume({ commandsFor: 'throws' }, async (batch) => {
      deliveries.push(...batch);
      if (batch.some((m) => !m.redelivered)) throw new Error('database unavailable');
      return batch.map(() => ({ kind: 'ack' as const }));
    });
    const messages = [outgoing(command('throws')), outgoing(command('throws'))];
    await publisher.publish(messages);

    await eventually(() => deliveries.filter((d) => d.redelivered).length === 2);
    const ids = messages.map((m) => m.message.messageId).sort();
    expect(
      deliveries
        .filter((d) => !d.redelivered)
        .map((d) => d.message.messageId)
        .sort(),
    ).toEqual(ids);
    expect(
      deliveries
        .filter((d) => d.redelivered)
        .map((d) => d.message.messageId)
        .sort(),
    ).toEqual(ids);
  });

  it('redelivers a batch whose handler returns the wrong number of dispositions', async () => {
    const deliveries: IncomingMessage[] = [];
    await publisher.consume({ commandsFor: 'malformed' }, async (batch) => {
      deliveries.push(...batch);
      return batch.every((m) => m.redelivered) ? batch.map(() => ({ kind: 'ack' as const })) : [];
    });
    const cmd = command('malformed');
    await publisher.publish([outgoing(cmd)]);
    await eventually(() => deliveries.some((d) => d.redelivered));
    expect(deliveries.map((d) => d.message.messageId)).toEqual([cmd.messageId, cmd.messageId]);
  });

  it("redelivers to another consumer when a consumer's connection dies before it acks", async () => {
    // Capture transport A's socket through Node's public API, to cut it as a crashed process would.
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    const a = newTransport({ reconnectDelayMs: 60_000, connectionName: `${prefix}-a` });
    await a.connect({ participants: ['crash'] });
    const socket = setNoDelay.mock.contexts[0] as Socket;
    setNoDelay.mockRestore();

    const release = deferred<Disposition[]>();
    const seenByA: IncomingMessage[] = [];
    await a.consume({ commandsFor: 'crash' }, (batch) => {
      seenByA.push(...batch);
      return release.promise;
    });
    const cmd = command('crash');
    await publisher.publish([outgoing(cmd)]);
    await eventually(() => seenByA.length === 1);
    expect(seenByA[0]).toEqual({ message: cmd, redelivered: false });

    socket.destroy(new Error('simulated crash')); // as ECONNRESET would
    const b = newTransport();
    await b.connect({ participants: ['crash'] });
    const seenByB = new Recorder();
    await b.consume({ commandsFor: 'crash' }, seenByB.handler);
    await eventually(() => seenByB.messages.length === 1);
    expect(seenByB.messages[0]).toEqual({ message: cmd, redelivered: true });

    // A's handler finishes late: its ack goes to a dead channel and must not throw or reach B's message.
    release.resolve([{ kind: 'ack' }]);
    await a.close();
    await b.close();
    expect(await broker.messageCount(`${prefix}.crash.commands`)).toBe(0);
  });

  it('close() gives up on a handler that never finishes after closeTimeoutMs; the message is redelivered', async () => {
    const a = newTransport({ closeTimeoutMs: 300 });
    await a.connect({ participants: ['slow'] });
    const seenByA: IncomingMessage[] = [];
    await a.consume({ commandsFor: 'slow' }, (batch) => {
      seenByA.push(...batch);
      return new Promise<Disposition[]>(() => undefined);
    });
    const cmd = command('slow');
    await publisher.publish([outgoing(cmd)]);
    await eventually(() => seenByA.length === 1);

    await a.close();
    const b = newTransport();
    await b.connect({ participants: ['slow'] });
    const seenByB = new Recorder();
    await b.consume({ commandsFor: 'slow' }, seenByB.handler);
    await eventually(() => seenByB.messages.length === 1);
    expect(seenByB.messages[0]).toEqual({ message: cmd, redelivered: true });
    await b.close();
  });

  it('close() waits for an in-flight batch and acks it', async () => {
    const a = newTransport();
    await a.connect({ participants: ['slow'] });
    const release = deferred<Disposition[]>();
    const started = deferred<void>();
    await a.consume({ commandsFor: 'slow' }, () => {
      started.resolve();
      return release.promise;
    });
    await publisher.publish([outgoing(command('slow'))]);
    await started.promise;

    let closed = false;
    const closing = a.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    release.resolve([{ kind: 'ack' }]);
    await closing;
    expect(await broker.messageCount(`${prefix}.slow.commands`)).toBe(0);
  });
});
