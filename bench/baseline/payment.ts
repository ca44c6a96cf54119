import { randomUUID } from 'node:crypto';
import { DATABASES, log, QUEUES } from './common';
import { replyTo, runParticipant } from './participant';

interface ChargePayment {
  orderId: string;
  amount: number;
}

runParticipant({
  database: DATABASES.payment,
  queue: QUEUES.payment,
  schema: [
    `CREATE TABLE IF NOT EXISTS payment (
       id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, amount integer NOT NULL, status text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
  ],
  tables: ['payment'],
  reply: (command) => replyTo(command, 'PaymentCharged', { paymentId: randomUUID() }),
  apply: async (client, command, reply) => {
    const { orderId, amount } = command.payload as unknown as ChargePayment;
    await client.query("INSERT INTO payment (id, order_id, amount, status) VALUES ($1, $2, $3, 'CHARGED')", [
      reply.payload.paymentId,
      orderId,
      amount,
    ]);
  },
}).catch((err: unknown) => {
  log(`payment failed to start: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
