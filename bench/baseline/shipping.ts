import { DATABASES, log, QUEUES } from './common';
import { replyTo, runParticipant } from './participant';
import { uuidv7 } from '../../libs/saga/src/runtime/ids';

interface ScheduleShipment {
  orderId: string;
  country: string;
}

runParticipant({
  database: DATABASES.shipping,
  queue: QUEUES.shipping,
  schema: [
    `CREATE TABLE shipment (
       id uuid PRIMARY KEY, order_id uuid NOT NULL UNIQUE, country text NOT NULL, status text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
  ],
  tables: ['shipment'],
  reply: (command) => replyTo(command, 'ShipmentScheduled', { shipmentId: uuidv7() }),
  apply: async (client, command, reply) => {
    const { orderId, country } = command.payload as unknown as ScheduleShipment;
    await client.query(
      "INSERT INTO shipment (id, order_id, country, status) VALUES ($1, $2, $3, 'SCHEDULED')",
      [reply.payload.shipmentId, orderId, country],
    );
  },
}).catch((err: unknown) => {
  log(`shipping failed to start: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
