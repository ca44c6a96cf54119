import type { GetMessage } from 'amqplib';
import { RabbitMqTransport, rabbitMqTransport } from '../../libs/saga/src/transport/rabbitmq';
import type { Disposition, IncomingMessage } from '../../libs/saga/src/transport/transport';
import {
  AMQP_URL,
  RawBroker,
  captureLogs,
  command,
  eventually,
  outgoing,
  reply,
  uniquePrefix,
} from './rabbitmq.helpers';

const prefix = uniquePrefix();
const commandQueue = `${prefix}.payment.commands`;
const replyQueue = `${prefix}.order.replies`;

describe('RabbitMqTransport dead-lettering (real broker)', () => {
  let broker: RawBroker;
  let transport: RabbitMqTransport;
  let logs: ReturnType<typeof captureLogs>;
  const handled: IncomingMessage[] = [];

  /** Rejects what the runtime could not handle (here: an unknown command type), acks the rest. */
  async function handler(batch: IncomingMessage[]): Promise<Disposition[]> {
    handled.push(...batch);
    return batch.map(({ message }) =>
      message.type === 'Unknown'
        ? { kind: 'reject', reason: `unknown command type 'Unknown'` }
        : { kind: 'ack' },
    );
  }

  function reasonOf(msg: GetMessage): unknown {
    return msg.properties.headers?.['x-saga-reject-reason'];
  }

  function warningsAbout(id: string): unknown[][] {
    return logs.warn.mock.calls.filter(([line]) => String(line).includes(id));
  }

  beforeAll(async () => {
    logs = captureLogs();
    broker = await RawBroker.open();
    transport = rabbitMqTransport({ url: AMQP_URL, prefix, connectTimeoutMs: 5_000 });
    await transport.connect({ participants: ['payment'], replies: 'order' });
    await transport.consume({ commandsFor: 'payment' }, handler);
    await transport.consume({ repliesFor: 'order' }, handler);
  });

  afterAll(async () => {
    await transport?.close();
    await broker?.deleteTopology(prefix, ['payment'], ['order']);
    await broker?.close();
    jest.restoreAllMocks();
  });

  it('dead-letters invalid messages at once with the reason in a header, and keeps consuming', async () => {
    const exchange = `${prefix}.commands`;
    const missing: Record<string, unknown> = { ...command('payment') };
    delete missing.sagaId;
    const wrongKind = reply('payment');
    broker.publish(exchange, 'payment', 'not json {', {
      messageId: 'bad-json',
      headers: { 'x-custom': 'kept' },
    });
    broker.publish(exchange, 'payment', JSON.stringify(missing), { messageId: 'missing-field' });
    broker.publish(exchange, 'payment', JSON.stringify(wrongKind), { messageId: 'wrong-kind' });
    broker.publish(exchange, 'payment', '[1, 2]'); // no messageId property at all
    const valid = command('payment');
    await transport.publish([outgoing(valid)]);

    const dead = await broker.take(`${commandQueue}.dlq`, 4);
    const byId = new Map(dead.map((m) => [String(m.properties.messageId), m]));
    expect([...byId.keys()].sort()).toEqual(['bad-json', 'missing-field', 'undefined', 'wrong-kind']);

    expect(reasonOf(byId.get('bad-json')!)).toMatch(/^invalid JSON/);
    expect(byId.get('bad-json')!.content.toString()).toBe('not json {');
    expect(byId.get('bad-json')!.properties.headers).toMatchObject({
      'x-custom': 'kept',
      'x-saga-original-queue': commandQueue,
    });
    expect(reasonOf(byId.get('missing-field')!)).toBe('missing envelope field(s): sagaId');
    expect(reasonOf(byId.get('wrong-kind')!)).toMatch(
      /^wrong kind: a 'reply' message in a queue of commands/,
    );
    expect(reasonOf(byId.get('undefined')!)).toMatch(/not a JSON object/);

    await eventually(() => handled.some((m) => m.message.messageId === valid.messageId));
    expect(handled.map((m) => m.message.messageId)).toEqual([valid.messageId]);
    expect(await broker.messageCount(commandQueue)).toBe(0);

    // One log line per bad message, naming it.
    expect(warningsAbout('bad-json')).toHaveLength(1);
    expect(warningsAbout('missing-field')).toHaveLength(1);
    expect(warningsAbout('wrong-kind')).toHaveLength(1);
    expect(warningsAbout('message unknown')).toHaveLength(1);
  });

  it('dead-letters a command that lands in a reply queue', async () => {
    const misrouted = command('order');
    broker.publish(`${prefix}.replies`, 'order', JSON.stringify(misrouted), {
      messageId: misrouted.messageId,
    });
    const [msg] = await broker.take(`${replyQueue}.dlq`, 1);
    expect(msg.properties.messageId).toBe(misrouted.messageId);
    expect(reasonOf(msg)).toMatch(/^wrong kind: a 'command' message in a queue of replies/);
    expect(msg.properties.headers?.['x-saga-original-queue']).toBe(replyQueue);
  });

  it("dead-letters a message the handler rejects, with the handler's reason", async () => {
    const unknown = command('payment', { type: 'Unknown' });
    await transport.publish([outgoing(unknown)]);
    const [msg] = await broker.take(`${commandQueue}.dlq`, 1);
    expect(msg.properties.messageId).toBe(unknown.messageId);
    expect(msg.properties.deliveryMode).toBe(2);
    expect(JSON.parse(msg.content.toString())).toEqual(unknown);
    expect(reasonOf(msg)).toBe(`unknown command type 'Unknown'`);
    expect(await broker.messageCount(commandQueue)).toBe(0);
  });
});
