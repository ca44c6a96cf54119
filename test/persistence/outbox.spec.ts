import type { DataSource } from 'typeorm';
import { SagaTransactions, TypeOrmSagaStore } from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';
import { instance } from './fixtures';

const [sqlite, postgres, mariadb] = testDatabases('saga_outbox');

describe.each([sqlite, postgres, mariadb])('outbox and purge on $name', (db) => {
  let dataSource: DataSource;
  let store: TypeOrmSagaStore;

  beforeEach(async () => {
    dataSource = await db.open();
    store = new TypeOrmSagaStore(dataSource, new SagaTransactions(dataSource), { purgeBatchSize: 3 });
  });

  afterEach(() => dataSource.destroy());

  const rows = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({
      messageId: `m-${from + i}`,
      body: `{"n":${from + i},"text":"é ✓"}`,
    }));

  async function outboxRow(messageId: string): Promise<Record<string, unknown>> {
    const [row] = await dataSource
      .createQueryBuilder()
      .select(['o.sentAt AS sent_at', 'o.claimedUntil AS claimed_until', 'o.attempts AS attempts'])
      .addSelect('o.lastError', 'last_error')
      .from('SagaOutbox', 'o')
      .where('o.messageId = :messageId', { messageId })
      .getRawMany<Record<string, unknown>>();
    return row;
  }

  it('inserts rows in one call and returns them with increasing ids, bodies untouched', async () => {
    const before = Date.now();
    const inserted = await store.insertOutbox(dataSource.manager, rows(3));
    expect(inserted.map((r) => r.messageId)).toEqual(['m-0', 'm-1', 'm-2']);
    expect(inserted.map((r) => r.body)).toEqual(rows(3).map((r) => r.body));
    const ids = inserted.map((r) => BigInt(r.id));
    expect(ids[0] < ids[1] && ids[1] < ids[2]).toBe(true);
    expect(inserted[0].createdAt).toBeGreaterThanOrEqual(before);
    expect(inserted[0].attempts).toBe(0);
    expect(await store.insertOutbox(dataSource.manager, [])).toEqual([]);
  });

  it('keeps a body far larger than 64 KB (MySQL TEXT) intact', async () => {
    const body = JSON.stringify({ text: 'é✓😀'.repeat(100_000) }); // ~900 KB, under the broker's 1 MiB
    const [row] = await store.insertOutbox(dataSource.manager, [{ messageId: 'big', body }]);
    expect(row.body).toBe(body);
    expect(await store.claimUnsent(Date.now() + 1, 10, 60_000)).toEqual([row]);
  });

  it('claims unsent rows older than a time, oldest first, once per lease; an expired lease can be claimed again', async () => {
    const inserted = await store.insertOutbox(dataSource.manager, rows(5));
    const later = Date.now() + 1;
    expect(await store.claimUnsent(inserted[0].createdAt, 10, 60_000)).toEqual([]); // none created before that

    const first = await store.claimUnsent(later, 2, 60_000);
    expect(first).toEqual(inserted.slice(0, 2));
    const second = await store.claimUnsent(later, 10, 60_000);
    expect(second.map((r) => r.messageId)).toEqual(['m-2', 'm-3', 'm-4']);
    expect(await store.claimUnsent(later, 10, 60_000)).toEqual([]); // all leased

    // A relay that claims with a lease that has already run out (it "died"): the rows are free again.
    await store.insertOutbox(dataSource.manager, rows(1, 5));
    expect((await store.claimUnsent(Date.now() + 1, 10, -1)).map((r) => r.messageId)).toEqual(['m-5']);
    expect((await store.claimUnsent(Date.now() + 1, 10, 60_000)).map((r) => r.messageId)).toEqual(['m-5']);
  });

  it('marks rows sent (never claimed again) or failed (attempts counted, lease ended)', async () => {
    const inserted = await store.insertOutbox(dataSource.manager, rows(3));
    const later = Date.now() + 1;
    const claimed = await store.claimUnsent(later, 10, 60_000);

    await store.markSent([claimed[0].id, claimed[1].id]);
    await store.markFailed([claimed[2].id], 'broker unreachable');
    await store.markSent([]);

    const sent = await outboxRow('m-0');
    expect(Number(sent.sent_at)).toBeGreaterThanOrEqual(inserted[0].createdAt);
    expect(sent.claimed_until).toBeNull();
    const failed = await outboxRow('m-2');
    expect(failed).toMatchObject({ sent_at: null, claimed_until: null, last_error: 'broker unreachable' });
    expect(Number(failed.attempts)).toBe(1);

    const again = await store.claimUnsent(Date.now() + 1, 10, 60_000);
    expect(again).toEqual([{ ...inserted[2], attempts: 1 }]);
  });

  it('purges, in batches, sent outbox rows, inbox rows and (when asked) finished sagas with their history', async () => {
    const m = dataSource.manager;
    await store.insertOutbox(m, rows(7));
    const claimed = await store.claimUnsent(Date.now() + 1, 10, 60_000);
    await store.markSent(claimed.slice(0, 5).map((r) => r.id)); // 5 sent, 2 unsent
    await store.recordInbox(m, 'payment', ['i1', 'i2', 'i3', 'i4']);

    const done = instance({ status: 'COMPLETED' }, { updatedAt: 1000 });
    const compensated = instance({ status: 'COMPENSATED' }, { updatedAt: 1000 });
    const recentDone = instance({ status: 'COMPLETED' }, { updatedAt: 5000 });
    const running = instance({ status: 'RUNNING' }, { updatedAt: 1000 });
    for (const r of [done, compensated, recentDone, running]) {
      await store.insertInstance(m, r);
      await store.appendLog(m, r.id, [
        { step: 'create', phase: 'invoke', attempt: 1, outcome: 'succeeded', at: 1 },
      ]);
    }

    // Nothing is old enough yet.
    expect(await store.purge({ sentOutboxBefore: 0, inboxBefore: 0, finishedSagasBefore: 0 })).toBe(0);

    const future = Date.now() + 60_000;
    const deleted = await store.purge({
      sentOutboxBefore: future,
      inboxBefore: future,
      finishedSagasBefore: 2000,
    });
    expect(deleted).toBe(5 + 4 + 2 * 2); // outbox + inbox + (instance + 1 log row) × 2

    expect(await outboxRow('m-4')).toBeUndefined();
    expect(await outboxRow('m-5')).toMatchObject({ sent_at: null }); // unsent rows stay
    expect(await store.recordInbox(m, 'payment', ['i1'])).toEqual(new Set());
    expect(await store.findInstance(m, done.id)).toBeNull();
    expect(await store.history(m, done.id)).toEqual([]);
    expect(await store.findInstance(m, compensated.id)).toBeNull();
    expect(await store.findInstance(m, recentDone.id)).not.toBeNull();
    expect(await store.history(m, running.id)).toHaveLength(1);

    // Without finishedSagasBefore, sagas are kept.
    expect(await store.purge({ sentOutboxBefore: future, inboxBefore: future })).toBe(1); // the inbox row just added
    expect(await store.findInstance(m, recentDone.id)).not.toBeNull();
  });
});

describe.each([postgres, mariadb])('outbox claimers on $name', (db) => {
  let dataSource: DataSource;
  let relays: DataSource[] = [];

  beforeAll(async () => {
    dataSource = await db.open();
    relays = [await db.reopen(), await db.reopen()];
  });

  afterAll(async () => {
    for (const ds of [dataSource, ...relays]) await ds?.destroy();
  });

  it('never hands the same row to two relays claiming in parallel, and hands out every row', async () => {
    const store = new TypeOrmSagaStore(dataSource);
    const total = 200;
    await store.insertOutbox(
      dataSource.manager,
      Array.from({ length: total }, (_, i) => ({ messageId: `c-${i}`, body: '{}' })),
    );
    const claimers = relays.map((ds) => new TypeOrmSagaStore(ds));
    const claimedBy = claimers.map(() => [] as string[]);
    const olderThan = Date.now() + 1;

    // Each relay claims small batches as fast as it can, two claims in flight each, until nothing is left.
    await Promise.all(
      claimers.flatMap((claimer, i) =>
        [0, 1].map(async () => {
          for (;;) {
            const batch = await claimer.claimUnsent(olderThan, 7, 60_000);
            if (batch.length === 0) return;
            claimedBy[i].push(...batch.map((r) => r.messageId));
          }
        }),
      ),
    );

    const all = claimedBy.flat();
    expect(new Set(all).size).toBe(all.length); // no row claimed twice
    expect(all).toHaveLength(total); // and none left behind
    expect(claimedBy.every((ids) => ids.length > 0)).toBe(true); // both relays really competed
  });
});
