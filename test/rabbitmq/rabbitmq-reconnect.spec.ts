import { Socket } from 'node:net';
import { TransportError } from '../../libs/saga/src/errors/saga.errors';
import { RabbitMqTransport, rabbitMqTransport } from '../../libs/saga/src/transport/rabbitmq';
import type { OutgoingMessage } from '../../libs/saga/src/transport/transport';
import {
  AMQP_URL,
  RawBroker,
  Recorder,
  captureLogs,
  command,
  eventually,
  outgoing,
  uniquePrefix,
} from './rabbitmq.helpers';

const prefix = uniquePrefix();
const participants = ['reconnect', 'lazy', 'vanish', 'cancel', 'conflict', 'after-conflict'];

describe('RabbitMqTransport recovery (real broker)', () => {
  let broker: RawBroker;
  let logs: ReturnType<typeof captureLogs>;
  const transports: RabbitMqTransport[] = [];

  function newTransport(): RabbitMqTransport {
    const t = rabbitMqTransport({ url: AMQP_URL, prefix, connectTimeoutMs: 5_000, reconnectDelayMs: 200 });
    transports.push(t);
    return t;
  }

  /** Publishes until the transport accepts (it refuses with TransportError while it is reconnecting). */
  async function publishWhenReady(t: RabbitMqTransport, messages: OutgoingMessage[]): Promise<void> {
    await eventually(() =>
      t.publish(messages).then(
        () => true,
        (error: unknown) => {
          if (error instanceof TransportError) return false;
          throw error;
        },
      ),
    );
  }

  async function deleteQueue(name: string): Promise<void> {
    await broker.channel.deleteQueue(name);
    await broker.channel.deleteQueue(`${name}.dlq`);
  }

  beforeAll(async () => {
    logs = captureLogs();
    broker = await RawBroker.open();
  });

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await broker?.deleteTopology(prefix, participants, []);
    await broker?.close();
    jest.restoreAllMocks();
  });

  it('reconnects after the connection drops: declares the topology again and re-creates its consumers', async () => {
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    const t = newTransport();
    await t.connect({ participants: ['reconnect'] });
    const socket = setNoDelay.mock.contexts[0] as Socket;
    setNoDelay.mockRestore();
    const recorder = new Recorder();
    await t.consume({ commandsFor: 'reconnect' }, recorder.handler);
    await t.publish([outgoing(command('lazy'))]); // declares the 'lazy' queue on first use
    await broker.take(`${prefix}.lazy.commands`, 1);

    socket.destroy(new Error('simulated network failure'));
    // Queues lost while disconnected (e.g. a broker that lost its definitions) come back on reconnect.
    await deleteQueue(`${prefix}.reconnect.commands`);
    await deleteQueue(`${prefix}.lazy.commands`);
    expect(logs.warn).toHaveBeenCalledWith(
      expect.stringMatching(/^Disconnected from RabbitMQ: simulated network/),
    );

    const cmd = command('reconnect');
    await publishWhenReady(t, [outgoing(cmd)]);
    await eventually(() => recorder.messages.length === 1);
    expect(recorder.messages[0].message).toEqual(cmd);

    const lazy = command('lazy');
    await t.publish([outgoing(lazy)]);
    const [msg] = await broker.take(`${prefix}.lazy.commands`, 1);
    expect(msg.properties.messageId).toBe(lazy.messageId);
  });

  it('fails a publish to a queue deleted since it was declared, and declares it again on the next one', async () => {
    const t = newTransport();
    await t.connect({ participants: [] });
    await t.publish([outgoing(command('vanish'))]);
    await broker.take(`${prefix}.vanish.commands`, 1);
    await deleteQueue(`${prefix}.vanish.commands`);

    const lost = command('vanish');
    await expect(t.publish([outgoing(lost)])).rejects.toThrow(/no queue is bound/);
    await t.publish([outgoing(lost)]); // as the outbox retries
    const [msg] = await broker.take(`${prefix}.vanish.commands`, 1);
    expect(msg.properties.messageId).toBe(lost.messageId);
  });

  it('subscribes again when the broker cancels the consumer (its queue was deleted)', async () => {
    const t = newTransport();
    await t.connect({ participants: ['cancel'] });
    const recorder = new Recorder();
    await t.consume({ commandsFor: 'cancel' }, recorder.handler);
    await deleteQueue(`${prefix}.cancel.commands`);

    const cmd = command('cancel');
    await publishWhenReady(t, [outgoing(cmd)]);
    await eventually(() => recorder.messages.length === 1);
    expect(recorder.messages[0].message).toEqual(cmd);
  });

  it('recovers when the broker closes its channel on a live connection (a conflicting declaration)', async () => {
    const t = newTransport();
    await t.connect({ participants: ['after-conflict'] });
    // Someone declared the queue with other arguments: RabbitMQ refuses the transport's declaration and closes
    // the channel (406 PRECONDITION_FAILED).
    await broker.channel.assertQueue(`${prefix}.conflict.commands`, { durable: false });

    await expect(t.publish([outgoing(command('conflict'))])).rejects.toThrow(/PRECONDITION_FAILED/);
    const after = command('after-conflict');
    await publishWhenReady(t, [outgoing(after)]);
    const [msg] = await broker.take(`${prefix}.after-conflict.commands`, 1);
    expect(msg.properties.messageId).toBe(after.messageId);
    expect(logs.warn).toHaveBeenCalledWith(expect.stringMatching(/channel closed on a live connection/));
  });
});
