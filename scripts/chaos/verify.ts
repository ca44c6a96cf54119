import type { Client } from 'pg';
import type { Placement } from './driver';
import { CUSTOMER_CREDIT_CENTS, EXPECTED_STATUS } from './plan';
import { sleep } from './services';

/** The three databases of the run, connected after the faults stopped. */
export interface RunDatabases {
  order: Client;
  payment: Client;
  shipping: Client;
}

export interface Violation {
  message: string;
  sagaId?: string;
  key?: string;
}

export interface Verdict {
  sagas: number;
  lost: number;
  duplicated: number;
  violations: Violation[];
  statuses: Record<string, number>;
}

const OPEN_STATUSES = ['RUNNING', 'COMPENSATING'];
/** Stored keys carry the order controller's prefix (apps/order/src/orders/orders.controller.ts). */
const KEY_PREFIX = 'place-order:';

/** Waits until no saga is RUNNING or COMPENSATING; prints progress. Returns false on timeout. */
export async function waitTerminal(
  order: Client,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<boolean> {
  const start = Date.now();
  let lastReport = 0;
  for (;;) {
    const statuses = await countStatuses(order);
    const open = OPEN_STATUSES.reduce((n, s) => n + (statuses[s] ?? 0), 0);
    const elapsed = ((Date.now() - start) / 1000).toFixed(0);
    if (open === 0) {
      log(`settled after ${elapsed} s: ${formatCounts(statuses)}`);
      return true;
    }
    if (Date.now() - lastReport >= 5_000) {
      log(`settling (${elapsed} s): ${formatCounts(statuses)}`);
      lastReport = Date.now();
    }
    if (Date.now() - start > timeoutMs) {
      log(`NOT settled after ${elapsed} s: ${formatCounts(statuses)}`);
      return false;
    }
    await sleep(1_000);
  }
}

/**
 * Unsent outbox rows per database, and how many of them a relay's sweep has claimed (leased) — all must reach 0
 * once the sagas are finished and the relays have swept.
 */
export async function unsentOutbox(
  dbs: RunDatabases,
): Promise<Record<string, { unsent: number; leased: number }>> {
  const result: Record<string, { unsent: number; leased: number }> = {};
  for (const [name, client] of Object.entries(dbs) as [string, Client][]) {
    const { rows } = await client.query<{ unsent: number; leased: number }>(
      'SELECT count(*)::int AS unsent, ' +
        'count(*) FILTER (WHERE claimed_until > (extract(epoch FROM clock_timestamp()) * 1000))::int AS leased ' +
        'FROM saga_outbox WHERE sent_at IS NULL',
    );
    result[name] = rows[0];
  }
  return result;
}

export async function countStatuses(order: Client): Promise<Record<string, number>> {
  const { rows } = await order.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM saga_instance GROUP BY status ORDER BY status',
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

interface SagaRow {
  id: string;
  status: string;
  idempotency_key: string | null;
  data: string;
}
interface OrderRow {
  id: string;
  status: string;
  saga_id: string;
  customer_id: string;
  amount: string;
  country: string;
}
interface PaymentRow {
  id: string;
  order_id: string;
  customer_id: string;
  amount: string;
  status: string;
}
interface ShipmentRow {
  id: string;
  order_id: string;
}
interface CustomerRow {
  id: string;
  credit_limit: string;
  available_credit: string;
}
interface SagaData {
  orderId?: string;
  customerId?: string;
  amount?: number;
  country?: string;
  address?: string;
}

/**
 * Checks the end state FROM THE DATABASES against what the driver placed: every saga terminal and as its
 * order's class expects; one saga per idempotency key and per placed order (nothing lost, nothing duplicated);
 * the order, payment and shipment rows consistent with the saga's outcome; no order charged or shipped twice;
 * every customer's available credit equal to their limit minus what is still charged.
 */
export async function verify(dbs: RunDatabases, placements: readonly Placement[]): Promise<Verdict> {
  const violations: Violation[] = [];
  const sagas = (
    await dbs.order.query<SagaRow>('SELECT id, status, idempotency_key, data FROM saga_instance')
  ).rows;
  const orders = (
    await dbs.order.query<OrderRow>(
      'SELECT id, status, saga_id, customer_id, amount::text AS amount, country FROM orders',
    )
  ).rows;
  const payments = (
    await dbs.payment.query<PaymentRow>(
      'SELECT id, order_id, customer_id, amount::text AS amount, status FROM payments',
    )
  ).rows;
  const customers = (
    await dbs.payment.query<CustomerRow>(
      'SELECT id, credit_limit::text AS credit_limit, available_credit::text AS available_credit FROM customers',
    )
  ).rows;
  const shipments = (await dbs.shipping.query<ShipmentRow>('SELECT id, order_id FROM shipments')).rows;

  const statuses: Record<string, number> = {};
  for (const s of sagas) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const sagaByKey = new Map<string, SagaRow>();
  for (const saga of sagas) {
    if (saga.idempotency_key?.startsWith(KEY_PREFIX)) {
      sagaByKey.set(saga.idempotency_key.slice(KEY_PREFIX.length), saga);
    }
  }
  const ordersBySaga = groupBy(orders, (o) => o.saga_id);
  const paymentsByOrder = groupBy(payments, (p) => p.order_id);
  const shipmentsByOrder = groupBy(shipments, (s) => s.order_id);

  let lost = 0;
  let matched = 0;
  const sagaOrderIds = new Set<string>();
  for (const placement of placements) {
    const { order } = placement;
    const saga = sagaByKey.get(order.key);
    const add = (message: string) =>
      violations.push({
        message: `order #${order.index} (${order.cls}): ${message}`,
        sagaId: saga?.id,
        key: order.key,
      });
    if (placement.error !== undefined) add(`never accepted over HTTP: ${placement.error}`);
    if (!saga) {
      if (placement.error === undefined) {
        lost++;
        add(`LOST: accepted as saga ${placement.sagaId} but no saga has its idempotency key`);
      }
      continue;
    }
    matched++;
    if (placement.error === undefined && saga.id !== placement.sagaId) {
      add(`accepted as saga ${placement.sagaId}, but the key's saga is ${saga.id}`);
    }
    if (placement.resubmitted) {
      const r = placement.resubmitted;
      if (r.error !== undefined) add(`posting it again with the same key failed: ${r.error}`);
      else if (r.sagaId !== saga.id || r.orderId !== placement.orderId) {
        add(`posting it again with the same key answered saga ${r.sagaId} / order ${r.orderId}`);
      }
    }
    const data = JSON.parse(saga.data) as SagaData;
    const orderId = data.orderId ?? '';
    sagaOrderIds.add(orderId);
    if (placement.orderId !== undefined && orderId !== placement.orderId) {
      add(`accepted as order ${placement.orderId}, but the saga's order is ${orderId}`);
    }
    const body = order.body;
    if (
      data.customerId !== body.customerId ||
      data.amount !== body.amount ||
      data.country !== body.country ||
      data.address !== body.address
    ) {
      add(`the saga's data ${JSON.stringify(data)} is not the request ${JSON.stringify(body)}`);
    }

    // The saga's outcome.
    const expected = EXPECTED_STATUS[order.cls];
    if (saga.status !== expected) add(`saga ${saga.status}, expected ${expected}`);

    // The order row.
    const orderRows = ordersBySaga.get(saga.id) ?? [];
    if (orderRows.length !== 1) add(`${orderRows.length} order rows for the saga (expected 1)`);
    const orderRow = orderRows[0] as OrderRow | undefined;
    if (orderRow && orderRow.id !== orderId)
      add(`the saga's order row is ${orderRow.id}, its data says ${orderId}`);
    const orderStatus = orderRow?.status;

    // Payments and shipments, by the saga's actual status (and, below, by the class).
    const pays = paymentsByOrder.get(orderId) ?? [];
    const ships = shipmentsByOrder.get(orderId) ?? [];
    const charged = pays.filter((p) => p.status === 'CHARGED');
    if (pays.length > 1) add(`${pays.length} payment rows for the order`);
    if (ships.length > 1) add(`${ships.length} shipments for the order`);
    switch (saga.status) {
      case 'COMPLETED':
        if (orderStatus !== 'APPROVED') add(`saga COMPLETED but order ${orderStatus}`);
        if (charged.length !== 1 || pays.length !== 1) {
          add(
            `saga COMPLETED with payments [${pays.map((p) => p.status).join(', ')}] (expected one CHARGED)`,
          );
        }
        if (ships.length !== 1) add(`saga COMPLETED with ${ships.length} shipments (expected 1)`);
        break;
      case 'COMPENSATED':
        if (orderStatus !== 'REJECTED') add(`saga COMPENSATED but order ${orderStatus}`);
        if (charged.length > 0) add(`saga COMPENSATED but ${charged.length} payment(s) still CHARGED`);
        if (ships.length > 0) add(`saga COMPENSATED but ${ships.length} shipment(s) exist`);
        break;
      case 'COMPENSATION_FAILED':
        add('saga COMPENSATION_FAILED (compensations should succeed)');
        break;
      default:
        add(`saga not terminal: ${saga.status}`);
    }
    // What each class leaves behind in the payment service.
    if (order.cls === 'declined' && pays.length > 0) {
      add(`declined order has payments [${pays.map((p) => p.status).join(', ')}] (expected none)`);
    }
    if (order.cls === 'refused' && (pays.length !== 1 || pays[0].status !== 'REFUNDED')) {
      add(`refused order has payments [${pays.map((p) => p.status).join(', ')}] (expected one REFUNDED)`);
    }
    for (const p of pays) {
      if (p.customer_id !== body.customerId || toCents(p.amount) !== order.amountCents) {
        add(`payment ${p.id} is ${p.customer_id} ${p.amount}, the order ${body.customerId} ${body.amount}`);
      }
    }
  }
  const duplicated = sagas.length - matched;
  const placedKeys = new Set(placements.map((p) => p.order.key));
  for (const saga of sagas) {
    const key = saga.idempotency_key?.slice(KEY_PREFIX.length);
    if (key === undefined || !placedKeys.has(key)) {
      violations.push({
        message: `DUPLICATE or unknown saga (key ${saga.idempotency_key})`,
        sagaId: saga.id,
      });
    }
  }
  const sagaIds = new Set(sagas.map((s) => s.id));
  for (const o of orders) {
    if (!sagaIds.has(o.saga_id))
      violations.push({ message: `order ${o.id} belongs to no saga (${o.saga_id})` });
  }
  // No orderId twice (the unique constraints should make this impossible: count to be sure), and no strays.
  for (const [table, byOrder] of [
    ['payments', paymentsByOrder],
    ['shipments', shipmentsByOrder],
  ] as const) {
    for (const [orderId, rows] of byOrder) {
      if (rows.length > 1)
        violations.push({ message: `order ${orderId} appears ${rows.length} times in ${table}` });
      if (!sagaOrderIds.has(orderId))
        violations.push({ message: `${table} has order ${orderId}, of no saga` });
    }
  }
  // Credit: the limit minus what is still charged.
  for (const c of customers) {
    const stillCharged = payments
      .filter((p) => p.customer_id === c.id && p.status === 'CHARGED')
      .reduce((sum, p) => sum + toCents(p.amount), 0);
    const limit = toCents(c.credit_limit);
    const available = toCents(c.available_credit);
    if (CUSTOMER_CREDIT_CENTS[c.id] !== undefined && limit !== CUSTOMER_CREDIT_CENTS[c.id]) {
      violations.push({ message: `customer ${c.id}: credit limit ${c.credit_limit} is not the seeded one` });
    }
    if (available !== limit - stillCharged) {
      violations.push({
        message:
          `customer ${c.id}: available credit ${c.available_credit}, but limit ${c.credit_limit} ` +
          `minus charged ${(stillCharged / 100).toFixed(2)} is ${((limit - stillCharged) / 100).toFixed(2)}`,
      });
    }
  }
  // No double effect per message, whatever the handlers do: one command per (saga, step, phase, attempt) from the
  // coordinator, and one reply to it from its participant. A second row means a reply or a command ran twice.
  for (const [db, client] of [
    ['order', dbs.order],
    ['payment', dbs.payment],
    ['shipping', dbs.shipping],
  ] as const) {
    for (const d of await repeatedMessages(client)) {
      const what = db === 'order' ? 'commands' : 'replies';
      violations.push({
        message:
          `${db} wrote ${d.n} ${what} for ${d.step}/${d.phase}/attempt ${d.attempt} ` +
          `(${db === 'order' ? 'the coordinator advanced the saga twice' : 'the handler ran twice'}: ` +
          `message ids ${d.ids})`,
        sagaId: d.saga,
      });
    }
  }
  return { sagas: sagas.length, lost, duplicated, violations, statuses };
}

/** Outbox messages written more than once for one (saga, step, phase, attempt). */
async function repeatedMessages(
  client: Client,
): Promise<{ saga: string; step: string; phase: string; attempt: number; n: number; ids: string }[]> {
  const { rows } = await client.query<{
    saga: string;
    step: string;
    phase: string;
    attempt: number;
    n: number;
    ids: string;
  }>(
    `SELECT m->>'sagaId' AS saga, m->>'step' AS step, m->>'phase' AS phase, (m->>'attempt')::int AS attempt,
            count(*)::int AS n, string_agg(m->>'messageId', ', ') AS ids
       FROM (SELECT body::json AS m FROM saga_outbox) o
      GROUP BY 1, 2, 3, 4 HAVING count(*) > 1`,
  );
  return rows;
}

/** How long sagas took from start to their last update (ms): quantiles and the slowest few. */
export async function durations(
  order: Client,
): Promise<{ p50: number; p95: number; p99: number; max: number; slowest: { id: string; ms: number }[] }> {
  const { rows } = await order.query<{ id: string; ms: string }>(
    'SELECT id, (updated_at - created_at)::text AS ms FROM saga_instance ORDER BY updated_at - created_at',
  );
  const ms = rows.map((r) => Number(r.ms));
  const q = (p: number) => (ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]);
  return {
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: ms.length === 0 ? 0 : ms[ms.length - 1],
    slowest: rows
      .slice(-3)
      .reverse()
      .map((r) => ({ id: r.id, ms: Number(r.ms) })),
  };
}

/**
 * Transient step failures recorded in the sagas' history (a failed attempt that was retried): not a violation, but
 * under these faults a sign that an infrastructure error (a dropped connection) was charged to a step.
 */
export async function transientFailures(order: Client): Promise<{ n: number; examples: string[] }> {
  const { rows } = await order.query<{
    saga_id: string;
    step: string;
    phase: string;
    attempt: number;
    detail: string;
  }>(
    `SELECT saga_id, step, phase, attempt, detail FROM saga_step_log
      WHERE outcome = 'failed' AND detail IS NOT NULL AND detail::json->>'transient' = 'true' ORDER BY id`,
  );
  return {
    n: rows.length,
    examples: rows.slice(0, 3).map((r) => {
      const detail = JSON.parse(r.detail) as { name?: string; message?: string };
      return `saga ${r.saga_id} ${r.step}/${r.phase}/attempt ${r.attempt}: ${detail.name}: ${detail.message}`;
    }),
  };
}

/** A saga's history, one line per `saga_step_log` row. */
export async function history(order: Client, sagaId: string): Promise<string[]> {
  const { rows } = await order.query<{
    step: string;
    phase: string;
    attempt: number;
    outcome: string;
    detail: string | null;
    at: string;
  }>(
    'SELECT step, phase, attempt, outcome, detail, at::text AS at FROM saga_step_log WHERE saga_id = $1 ORDER BY id',
    [sagaId],
  );
  const state = await order.query<{
    status: string;
    current_step: string;
    phase: string;
    attempt: number;
    awaiting: boolean;
    wake_at: string | null;
    version: number;
  }>(
    'SELECT status, current_step, phase, attempt, awaiting, wake_at::text AS wake_at, version FROM saga_instance WHERE id = $1',
    [sagaId],
  );
  const lines = state.rows.map(
    (s) =>
      `instance: ${s.status}, step ${s.current_step} ${s.phase} attempt ${s.attempt}, awaiting ${s.awaiting}, ` +
      `wake_at ${s.wake_at === null ? '-' : new Date(Number(s.wake_at)).toISOString()}, version ${s.version}`,
  );
  for (const r of rows) {
    const at = new Date(Number(r.at)).toISOString().slice(11, 23);
    lines.push(
      `${at}  ${r.step.padEnd(8)} ${r.phase.padEnd(17)} ${String(r.attempt).padEnd(3)} ${r.outcome.padEnd(10)} ${r.detail ?? ''}`,
    );
  }
  return lines;
}

function toCents(decimal: string): number {
  return Math.round(Number(decimal) * 100);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
