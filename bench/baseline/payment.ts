import { customerSeedParams } from '../lib/customers';
import { DATABASES, log, QUEUES } from './common';
import { replyTo, runParticipant } from './participant';
import { uuidv7 } from '../../libs/saga/src/runtime/ids';

interface ChargePayment {
  orderId: string;
  customerId: string;
  amount: number;
}

runParticipant({
  database: DATABASES.payment,
  queue: QUEUES.payment,
  schema: [
    `CREATE TABLE payment (
       id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, amount integer NOT NULL, status text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE customer (id text PRIMARY KEY, available_credit bigint NOT NULL)`,
  ],
  tables: ['payment', 'customer'],
  // The same durable work as the sample's payment participant: its credit check and debit, then the payment row.
  seed: async (pool) => {
    await pool.query(
      `INSERT INTO customer (id, available_credit) SELECT unnest($1::text[]), $2
       ON CONFLICT (id) DO UPDATE SET available_credit = EXCLUDED.available_credit`,
      customerSeedParams(),
    );
  },
  reply: (command) => replyTo(command, 'PaymentCharged', { paymentId: uuidv7() }),
  apply: async (client, command, reply) => {
    const { orderId, customerId, amount } = command.payload as unknown as ChargePayment;
    const debit = await client.query(
      'UPDATE customer SET available_credit = available_credit - $2 WHERE id = $1 AND available_credit >= $2',
      [customerId, amount],
    );
    if (debit.rowCount !== 1) throw new Error(`customer ${customerId}: unknown or not enough credit`);
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
