import type { ConfirmChannel, Message } from 'amqplib';
import { TransportError } from '../../errors/saga.errors';
import { writeFramesNow } from './rabbitmq.connection';
import { errorMessage, messageIdOf, type Outgoing } from './rabbitmq.messages';

/**
 * Publishes on one confirm channel, with the `mandatory` flag. A message no queue is bound for (its queue was
 * deleted after the transport declared it) comes back as `basic.return`, which RabbitMQ sends before the confirm:
 * the publish fails instead of the broker confirming a message it dropped.
 */
export class ConfirmPublisher {
  /** Message ids returned as unroutable whose confirm has not arrived yet, with a count for duplicates. */
  private readonly returned = new Map<string, number>();

  constructor(readonly channel: ConfirmChannel) {
    channel.on('return', (msg: Message) => {
      const id = messageIdOf(msg);
      this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
    });
  }

  /**
   * Publishes every message, then waits once for all their confirms. Rejects with `TransportError` if the broker
   * nacks or returns any, the channel closes before all are confirmed, or `timeoutMs` passes (e.g. the connection
   * is blocked by a resource alarm).
   */
  async publish(messages: readonly Outgoing[], timeoutMs: number): Promise<void> {
    const confirms = messages.map((m) => this.publishOne(m));
    writeFramesNow(this.channel);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no confirm within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all(confirms), timeout]);
    } catch (err) {
      // Promise.all has a handler on every confirm, so the ones that fail later are not unhandled rejections.
      throw new TransportError(
        `RabbitMQ did not confirm a batch of ${messages.length} message(s): ${errorMessage(err)}. ` +
          `Some may have been delivered; publish them again (receivers deduplicate by messageId).`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private publishOne(m: Outgoing): Promise<void> {
    const id = typeof m.options.messageId === 'string' ? m.options.messageId : 'unknown';
    return new Promise<void>((resolve, reject) => {
      // publish throws at once when the channel is already closed; the callback reports a nack or a later close.
      this.channel.publish(
        m.exchange,
        m.routingKey,
        m.content,
        { ...m.options, mandatory: true },
        (err: unknown) => {
          if (err) reject(err instanceof Error ? err : new Error(errorMessage(err)));
          else if (this.takeReturned(id))
            reject(new Error(`no queue is bound to ${m.exchange} for '${m.routingKey}'`));
          else resolve();
        },
      );
    });
  }

  private takeReturned(id: string): boolean {
    const count = this.returned.get(id);
    if (!count) return false;
    if (count === 1) this.returned.delete(id);
    else this.returned.set(id, count - 1);
    return true;
  }
}
