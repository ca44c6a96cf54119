import type { DataSource, EntityManager } from 'typeorm';
import type { StepLogEntry } from '../../libs/saga/src/engine/saga-state';
import {
  isUniqueViolation,
  SagaTransactions,
  TypeOrmSagaStore,
} from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';
import { instance } from './fixtures';

describe.each(testDatabases('saga_store'))('TypeOrmSagaStore on $name', (db) => {
  let dataSource: DataSource;
  let transactions: SagaTransactions;
  let store: TypeOrmSagaStore;
  let manager: EntityManager;

  beforeEach(async () => {
    dataSource = await db.open();
    transactions = new SagaTransactions(dataSource);
    store = new TypeOrmSagaStore(dataSource, transactions);
    manager = dataSource.manager;
  });

  afterEach(() => dataSource.destroy());

  describe('instances', () => {
    it('inserts and finds an instance as it was written, times as numbers', async () => {
      const record = instance(
        { wakeAt: 1_700_000_005_000, deadlineAt: 1_700_000_900_000, awaiting: true },
        { idempotencyKey: 'order-1' },
      );
      await store.insertInstance(manager, record);

      const found = await store.findInstance(manager, record.id);
      expect(found).toEqual(record);
      expect(typeof found!.createdAt).toBe('number');
      expect(typeof found!.state.wakeAt).toBe('number');
      expect(await store.findInstance(manager, 'no-such-saga')).toBeNull();
    });

    it('updates only from the expected version: the second writer with a stale version gets false', async () => {
      const record = instance();
      await store.insertInstance(manager, record);

      const first = {
        ...record,
        version: 2,
        data: { ...record.data, paymentId: 'p-1' },
        state: { ...record.state, stepIndex: 1, lastError: { message: 'x', name: 'Error', transient: true } },
      };
      const second = { ...record, version: 2, state: { ...record.state, status: 'COMPENSATING' as const } };
      expect(await store.updateInstance(manager, first)).toBe(true);
      expect(await store.updateInstance(manager, second)).toBe(false);
      expect(await store.findInstance(manager, record.id)).toEqual(first);

      expect(
        await store.updateInstance(manager, { ...first, version: 3, updatedAt: first.updatedAt + 1 }),
      ).toBe(true);
      expect((await store.findInstance(manager, record.id))!.version).toBe(3);
    });

    it('finds an instance by idempotency key, and refuses a second instance with the same key', async () => {
      const record = instance({}, { idempotencyKey: 'order-7' });
      await store.insertInstance(manager, record);
      await store.insertInstance(manager, instance()); // null keys do not collide
      await store.insertInstance(manager, instance());

      expect((await store.findInstanceByIdempotencyKey(manager, 'order-7'))!.id).toBe(record.id);
      expect(await store.findInstanceByIdempotencyKey(manager, 'order-8')).toBeNull();

      const error: unknown = await store
        .insertInstance(manager, instance({}, { idempotencyKey: 'order-7' }))
        .catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      expect(isUniqueViolation(new Error('nope'))).toBe(false);
    });

    it('finds due sagas by the earlier of wake-up and deadline, never terminal ones', async () => {
      const now = 1_700_000_010_000;
      const dueByWake = instance({ wakeAt: now - 5 });
      const dueByDeadline = instance({ wakeAt: now + 60_000, deadlineAt: now - 1 });
      const dueExactlyNow = instance({ status: 'COMPENSATING', phase: 'compensate', wakeAt: now });
      const notYet = instance({ wakeAt: now + 1, deadlineAt: now + 10 });
      const noTimer = instance();
      const finished = instance({ status: 'COMPLETED', wakeAt: now - 100, deadlineAt: now - 100 });
      const failed = instance({ status: 'COMPENSATION_FAILED', wakeAt: now - 100 });
      for (const r of [dueByWake, dueByDeadline, dueExactlyNow, notYet, noTimer, finished, failed]) {
        await store.insertInstance(manager, r);
      }

      expect(await store.findDue(manager, now, 10)).toEqual([
        dueByWake.id,
        dueByDeadline.id,
        dueExactlyNow.id,
      ]);
      expect(await store.findDue(manager, now, 1)).toEqual([dueByWake.id]);

      // Finishing a saga takes it off the sweep even if its timers stay set.
      const done = { ...dueByWake, version: 2, state: { ...dueByWake.state, status: 'COMPLETED' as const } };
      expect(await store.updateInstance(manager, done)).toBe(true);
      expect(await store.findDue(manager, now, 10)).toEqual([dueByDeadline.id, dueExactlyNow.id]);
    });

    it('keeps data and errors far larger than 64 KB (MySQL TEXT) intact, any Unicode included', async () => {
      const big = 'é✓😀'.repeat(40_000); // 360 KB of UTF-8, 4-byte characters included
      const record = instance({ lastError: { name: 'Error', message: big, transient: true } });
      record.data = { big };
      await store.insertInstance(manager, record);
      expect(await store.findInstance(manager, record.id)).toEqual(record);
    });

    it('compares idempotency keys exactly: keys that differ in case only are different keys', async () => {
      const lower = instance({}, { idempotencyKey: 'order-a' });
      const upper = instance({}, { idempotencyKey: 'ORDER-A' });
      await store.insertInstance(manager, lower);
      await store.insertInstance(manager, upper);
      expect((await store.findInstanceByIdempotencyKey(manager, 'ORDER-A'))!.id).toBe(upper.id);
      expect((await store.findInstanceByIdempotencyKey(manager, 'order-a'))!.id).toBe(lower.id);
    });

    it('lists by status, type and age, most recently updated first', async () => {
      const old = instance({}, { updatedAt: 1000 });
      const recent = instance({}, { updatedAt: 3000 });
      const otherType = instance({}, { type: 'refund', updatedAt: 2000 });
      const done = instance({ status: 'COMPLETED' }, { updatedAt: 4000 });
      for (const r of [old, recent, otherType, done]) await store.insertInstance(manager, r);

      const ids = (rs: { id: string }[]) => rs.map((r) => r.id);
      expect(ids(await store.list(manager, {}))).toEqual([done.id, recent.id, otherType.id, old.id]);
      expect(ids(await store.list(manager, { status: ['RUNNING'] }))).toEqual([
        recent.id,
        otherType.id,
        old.id,
      ]);
      expect(ids(await store.list(manager, { status: ['RUNNING'], type: 'place-order' }))).toEqual([
        recent.id,
        old.id,
      ]);
      expect(ids(await store.list(manager, { updatedBefore: 3000 }))).toEqual([otherType.id, old.id]);
      expect(ids(await store.list(manager, { limit: 2 }))).toEqual([done.id, recent.id]);
      expect((await store.list(manager, { type: 'refund' }))[0]).toEqual(otherType);
    });
  });

  describe('step log', () => {
    const entries: StepLogEntry[] = [
      { step: 'create', phase: 'invoke', attempt: 1, outcome: 'succeeded', at: 10 },
      { step: 'charge', phase: 'invoke', attempt: 1, outcome: 'sent', detail: { timeoutAt: 99 }, at: 11 },
      {
        step: 'charge',
        phase: 'reply',
        attempt: 1,
        outcome: 'failed',
        detail: { message: 'declined' },
        at: 12,
      },
    ];

    it('appends entries in one call and returns the history in write order', async () => {
      const record = instance();
      await store.insertInstance(manager, record);
      await store.appendLog(manager, record.id, entries);
      await store.appendLog(manager, record.id, [
        { step: 'create', phase: 'compensate', attempt: 1, outcome: 'succeeded', at: 5 },
      ]);
      await store.appendLog(manager, instance().id, entries); // another saga's history

      const history = await store.history(manager, record.id);
      expect(history).toEqual([
        ...entries.map((e) => ({ sagaId: record.id, detail: null, ...e })),
        {
          sagaId: record.id,
          step: 'create',
          phase: 'compensate',
          attempt: 1,
          outcome: 'succeeded',
          detail: null,
          at: 5,
        },
      ]);
    });

    it('keeps a detail larger than 64 KB intact', async () => {
      const detail = { message: 'x'.repeat(100_000) };
      await store.appendLog(manager, 's-1', [{ ...entries[0], detail }]);
      expect((await store.history(manager, 's-1'))[0].detail).toEqual(detail);
    });

    it('rejects a replayed entry (same saga, step, phase and attempt) and keeps nothing of that batch', async () => {
      const record = instance();
      await store.appendLog(manager, record.id, entries);

      const replay = transactions.run((m) =>
        store.appendLog(m, record.id, [
          { step: 'approve', phase: 'invoke', attempt: 1, outcome: 'sent', at: 20 },
          { ...entries[1], at: 21 },
        ]),
      );
      const error: unknown = await replay.catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      expect(await store.history(manager, record.id)).toHaveLength(3);
    });
  });

  describe('write sets (the end of a transaction: one statement on PostgreSQL)', () => {
    it('inserts and updates instances, appends history and outbox rows', async () => {
      const kept = instance();
      await store.insertInstance(manager, kept);
      const born = instance({}, { idempotencyKey: 'w-1', version: 0 });
      const advanced = {
        ...kept,
        version: 3,
        dueAt: null,
        data: { ...kept.data, paymentId: 'p-9' },
        state: { ...kept.state, status: 'COMPLETED' as const, stepIndex: 2, wakeAt: null, awaiting: false },
      };

      const result = await transactions.run((m) =>
        store.write(
          m,
          {
            inserted: [born],
            updated: [{ record: advanced, expectedVersion: kept.version }],
            log: [
              { sagaId: born.id, step: 'create', phase: 'invoke', attempt: 1, outcome: 'succeeded', at: 1 },
              {
                sagaId: kept.id,
                step: 'ship',
                phase: 'reply',
                attempt: 2,
                outcome: 'succeeded',
                detail: { n: 1 },
                at: 2,
              },
            ],
            outbox: [
              { messageId: 'w-out-1', body: '{"a":1}' },
              { messageId: 'w-out-2', body: '{"b":2}' },
            ],
          },
          { last: true }, // on PostgreSQL the COMMIT goes out with it
        ),
      );

      expect(result.stale).toEqual([]);
      expect(result.outbox.map((r) => [r.messageId, r.body])).toEqual([
        ['w-out-1', '{"a":1}'],
        ['w-out-2', '{"b":2}'],
      ]);
      expect(BigInt(result.outbox[1].id)).toBeGreaterThan(BigInt(result.outbox[0].id));
      expect(await store.findInstance(manager, born.id)).toEqual(born);
      expect(await store.findInstance(manager, kept.id)).toEqual(advanced);
      expect((await store.history(manager, kept.id)).map((e) => [e.step, e.detail])).toEqual([
        ['ship', { n: 1 }],
      ]);
      expect(await store.history(manager, born.id)).toHaveLength(1);
      const claimed = await store.claimUnsent(Date.now() + 1, 10, 1000);
      expect(claimed.map((r) => r.id)).toEqual(result.outbox.map((r) => r.id));
    });

    it.each([false, true])(
      'reports a stale version, and the rollback that follows leaves nothing written (last: %s)',
      async (last) => {
        const kept = instance();
        const contested = instance();
        await store.insertInstance(manager, kept);
        await store.insertInstance(manager, contested);
        const born = instance({}, { idempotencyKey: 'w-2', version: 0 });
        let stale: string[] = [];

        const failed = await transactions
          .run(async (m) => {
            const result = await store.write(
              m,
              {
                inserted: [born],
                updated: [
                  { record: { ...kept, version: 2 }, expectedVersion: kept.version },
                  { record: { ...contested, version: 9 }, expectedVersion: contested.version + 1 },
                ],
                log: [
                  { sagaId: kept.id, step: 's', phase: 'invoke', attempt: 1, outcome: 'succeeded', at: 1 },
                ],
                outbox: [{ messageId: 'w-out-3', body: '{}' }],
              },
              { last },
            );
            stale = result.stale;
            // What commitWrites does: a stale saga rolls the transaction back.
            if (stale.length > 0) throw new Error('stale');
          })
          .catch((error: unknown) => error);

        expect((failed as Error).message).toBe('stale');
        expect(stale).toEqual([contested.id]);
        expect(await store.findInstance(manager, born.id)).toBeNull();
        expect(await store.findInstance(manager, kept.id)).toEqual(kept);
        expect(await store.findInstance(manager, contested.id)).toEqual(contested);
        expect(await store.history(manager, kept.id)).toEqual([]);
        expect(await store.claimUnsent(Date.now() + 1, 10, 1000)).toEqual([]);
      },
    );

    it('writes nothing for an empty set, and a set too large for one statement in full', async () => {
      expect(await store.write(manager, { inserted: [], updated: [], log: [], outbox: [] })).toEqual({
        outbox: [],
        stale: [],
      });
      const many = Array.from({ length: 1700 }, (_, i) =>
        instance({}, { version: 0, idempotencyKey: `k-${i}` }),
      );
      const outbox = many.map((r) => ({ messageId: `m-${r.id}`, body: '{}' }));
      const result = await transactions.run((m) =>
        store.write(m, { inserted: many, updated: [], log: [], outbox }),
      );
      expect(new Set(result.outbox.map((r) => r.id)).size).toBe(1700);
      expect(
        (
          await store.findInstances(
            manager,
            many.map((r) => r.id),
          )
        ).length,
      ).toBe(1700);
    });
  });

  describe('inbox', () => {
    it('records message ids per consumer and returns those already recorded', async () => {
      expect(await store.recordInbox(manager, 'payment', ['m1', 'm2'])).toEqual(new Set());
      expect(await store.recordInbox(manager, 'payment', ['m2', 'm3', 'm1'])).toEqual(new Set(['m1', 'm2']));
      expect(await store.recordInbox(manager, 'shipping', ['m1'])).toEqual(new Set());
      expect(await store.recordInbox(manager, 'payment', [])).toEqual(new Set());
    });

    it('reports a duplicate inside a transaction without aborting it (PostgreSQL aborts on a failed statement)', async () => {
      await store.recordInbox(manager, 'payment', ['m1']);

      const result = await transactions.run(async (m) => {
        const duplicates = await store.recordInbox(m, 'payment', ['m1', 'm2']);
        // The transaction is still usable: these writes commit.
        await store.insertInstance(m, instance({}, { id: '00000000-0000-4000-8000-000000000001' }));
        await store.insertOutbox(m, [{ messageId: 'reply-m2', body: '{}' }]);
        return duplicates;
      });

      expect(result).toEqual(new Set(['m1']));
      expect(await store.findInstance(manager, '00000000-0000-4000-8000-000000000001')).not.toBeNull();
      expect(await store.recordInbox(manager, 'payment', ['m2'])).toEqual(new Set(['m2']));
    });

    it('records inbox ids and reads the instances in one call', async () => {
      const a = instance();
      const b = instance();
      await store.insertInstance(manager, a);
      await store.insertInstance(manager, b);
      await store.recordInbox(manager, 'order', ['r1']);

      const first = await transactions.run((m) =>
        store.recordInboxAndFindInstances(m, 'order', ['r1', 'r2', 'r3'], [a.id, b.id, a.id, 'no-such-saga']),
      );
      expect(first.duplicates).toEqual(new Set(['r1']));
      expect(first.instances.sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [a, b].sort((x, y) => x.id.localeCompare(y.id)),
      );

      const none = await store.recordInboxAndFindInstances(manager, 'order', ['r2', 'r4'], ['no-such-saga']);
      expect(none).toEqual({ duplicates: new Set(['r2']), instances: [] });
      const again = await store.recordInboxAndFindInstances(manager, 'order', ['r4'], [b.id]);
      expect(again).toEqual({ duplicates: new Set(['r4']), instances: [b] });
    });

    it('compares message ids exactly: ids that differ in case only are different messages', async () => {
      expect(await store.recordInbox(manager, 'payment', ['msg-a'])).toEqual(new Set());
      expect(await store.recordInbox(manager, 'payment', ['MSG-A', 'msg-a'])).toEqual(new Set(['msg-a']));
    });

    it('forgets the ids when the transaction rolls back', async () => {
      await expect(
        transactions.run(async (m) => {
          await store.recordInbox(m, 'payment', ['m9']);
          throw new Error('handler failed');
        }),
      ).rejects.toThrow('handler failed');
      expect(await store.recordInbox(manager, 'payment', ['m9'])).toEqual(new Set());
    });
  });
});

describe.each(testDatabases('saga_store_prepared').filter((db) => db.name === 'postgres'))(
  'TypeOrmSagaStore prepared statements on $name',
  (db) => {
    let dataSource: DataSource;

    beforeEach(async () => (dataSource = await db.open()));
    afterEach(() => dataSource.destroy());

    /** The prepared statements of the connection a transaction runs on, after running `work` in it. */
    async function preparedAfter(store: TypeOrmSagaStore, work: (m: EntityManager) => Promise<unknown>) {
      return new SagaTransactions(dataSource).run(async (m) => {
        await work(m);
        const rows: { name: string }[] = await m.query(
          "SELECT name FROM pg_prepared_statements WHERE name LIKE 'saga\\_%'",
        );
        return rows.map((r) => r.name);
      });
    }

    it('prepares the store statements once per connection, by a name derived from their text', async () => {
      const store = new TypeOrmSagaStore(dataSource);
      const record = instance();
      const names = await preparedAfter(store, async (m) => {
        await store.insertInstance(m, record);
        for (let i = 0; i < 3; i++) await store.findInstance(m, record.id);
      });
      expect(names).toHaveLength(2);
      for (const name of names) expect(name).toMatch(/^saga_[0-9a-f]{32}$/);
      // Another store over the same pool names the same statements the same way.
      const again = await preparedAfter(new TypeOrmSagaStore(dataSource), (m) =>
        store.findInstance(m, record.id),
      );
      expect(names).toEqual(expect.arrayContaining(again));
    });

    it('prepares nothing with preparedStatements: false', async () => {
      const store = new TypeOrmSagaStore(dataSource, undefined, { preparedStatements: false });
      const record = instance();
      const names = await preparedAfter(store, async (m) => {
        await store.insertInstance(m, record);
        expect(await store.findInstance(m, record.id)).toEqual(record);
      });
      expect(names).toEqual([]);
    });
  },
);
