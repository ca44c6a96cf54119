import type { DataSource, EntityManager } from 'typeorm';
import {
  isUniqueViolation,
  SagaTransactions,
  TypeOrmSagaStore,
} from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';
import { instance } from './fixtures';

const [sqlite, postgres, mariadb] = testDatabases('saga_transactions');
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function count(manager: EntityManager, entity: string): Promise<number> {
  return manager.getRepository(entity).count();
}

describe('transactions on sqlite (one connection)', () => {
  let dataSource: DataSource;
  let store: TypeOrmSagaStore;

  beforeEach(async () => {
    dataSource = await sqlite.open();
    store = new TypeOrmSagaStore(dataSource);
  });

  afterEach(() => dataSource.destroy());

  /** A transaction that writes two rows with a pause between them, and fails when `fail`. */
  const unitOfWork = (i: number, fail: boolean) => async (m: EntityManager) => {
    await store.recordInbox(m, 'payment', [`in-${i}`]);
    await tick();
    await store.insertOutbox(m, [{ messageId: `out-${i}`, body: '{}' }]);
    if (fail) throw new Error(`unit ${i} fails`);
  };

  it('shows the problem: concurrent dataSource.transaction() calls collide on the single connection', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => dataSource.transaction(unitOfWork(i, false))),
    );
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((e) => e.includes('cannot start a transaction within a transaction'))).toBe(true);
  });

  it('runs 50 concurrent transactions one after the other: each commits or rolls back whole', async () => {
    const transactions = new SagaTransactions(dataSource);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => transactions.run(unitOfWork(i, i % 5 === 0))),
    );

    const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    expect(failed).toHaveLength(10);
    expect(failed.every((e) => /unit \d+ fails/.test(e))).toBe(true);
    expect(await count(dataSource.manager, 'SagaInbox')).toBe(40);
    expect(await count(dataSource.manager, 'SagaOutbox')).toBe(40);
    expect(await store.recordInbox(dataSource.manager, 'payment', ['in-0', 'in-1'])).toEqual(
      new Set(['in-1']),
    );
  });

  it('queues the store’s own statements behind open transactions', async () => {
    const transactions = new SagaTransactions(dataSource);
    const shared = new TypeOrmSagaStore(dataSource, transactions);
    const [row] = await shared.insertOutbox(dataSource.manager, [{ messageId: 'x', body: '{}' }]);
    const rolledBack = transactions.run(async (m) => {
      await shared.recordInbox(m, 'payment', ['y']);
      await tick();
      throw new Error('rolled back');
    });
    // Issued while the transaction above is open: it must not join (and be rolled back with) it.
    const claim = shared.claimUnsent(Date.now() + 1, 10, 60_000);
    await expect(rolledBack).rejects.toThrow('rolled back');
    expect(await claim).toEqual([row]);
    expect(await shared.claimUnsent(Date.now() + 1, 10, 60_000)).toEqual([]); // the claim was committed
  });
});

describe.each([sqlite, postgres, mariadb])('nested transactions on $name', (db) => {
  let dataSource: DataSource;
  let transactions: SagaTransactions;
  let store: TypeOrmSagaStore;

  beforeEach(async () => {
    dataSource = await db.open();
    transactions = new SagaTransactions(dataSource);
    store = new TypeOrmSagaStore(dataSource, transactions);
  });

  afterEach(() => dataSource.destroy());

  it('rolls back a failed inner manager.transaction() to its savepoint and commits the outer one', async () => {
    const saga = instance();
    await transactions.run(async (m) => {
      await store.insertInstance(m, saga);
      await expect(
        m.transaction(async (step) => {
          await store.insertOutbox(step, [{ messageId: 'step-write', body: '{}' }]);
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      await store.insertOutbox(m, [{ messageId: 'after-step', body: '{}' }]);
    });

    expect(await store.findInstance(dataSource.manager, saga.id)).not.toBeNull();
    const sent = await store.claimUnsent(Date.now() + 1, 10, 1000);
    expect(sent.map((r) => r.messageId)).toEqual(['after-step']);
  });

  it('survives a failed statement inside a savepoint (on PostgreSQL it would abort the transaction)', async () => {
    const saga = instance();
    await store.appendLog(dataSource.manager, saga.id, [
      { step: 'charge', phase: 'invoke', attempt: 1, outcome: 'sent', at: 1 },
    ]);
    await transactions.run(async (m) => {
      const replay = m.transaction((step) =>
        store.appendLog(step, saga.id, [
          { step: 'charge', phase: 'invoke', attempt: 1, outcome: 'sent', at: 2 },
        ]),
      );
      expect(isUniqueViolation(await replay.catch((e: unknown) => e))).toBe(true);
      await store.insertInstance(m, saga); // the outer transaction still works
    });
    expect(await store.findInstance(dataSource.manager, saga.id)).not.toBeNull();
  });

  it('joins run() called inside run() as a savepoint instead of waiting for itself', async () => {
    const outer = instance();
    const inner = instance();
    await transactions.run(async (m) => {
      await store.insertInstance(m, outer);
      await expect(
        transactions.run(async (nested) => {
          await store.insertInstance(nested, inner);
          throw new Error('inner failed');
        }),
      ).rejects.toThrow('inner failed');
      expect(await store.findInstance(m, inner.id)).toBeNull();
    });
    expect(await store.findInstance(dataSource.manager, outer.id)).not.toBeNull();
  });

  it('runs afterCommit callbacks after the outermost commit, and drops those of what rolled back', async () => {
    const events: string[] = [];
    transactions.afterCommit(() => events.push('outside: at once'));
    await transactions.run(async (m) => {
      transactions.afterCommit(() => events.push('outer'));
      await transactions.run(async () => {
        transactions.afterCommit(() => events.push('nested, kept'));
      });
      await expect(
        transactions.run(async () => {
          transactions.afterCommit(() => events.push('nested, rolled back'));
          throw new Error('inner failed');
        }),
      ).rejects.toThrow('inner failed');
      await expect(
        transactions.savepoint(m, async () => {
          transactions.afterCommit(() => events.push('savepoint, rolled back'));
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      events.push('before commit');
    });
    await expect(
      transactions.run(async () => {
        transactions.afterCommit(() => events.push('rolled back'));
        throw new Error('outer failed');
      }),
    ).rejects.toThrow('outer failed');
    expect(events).toEqual(['outside: at once', 'before commit', 'outer', 'nested, kept']);
    expect(transactions.inTransaction()).toBe(false);
  });
});

describe.each([sqlite, postgres, mariadb])(
  'without the implicit context (implicitContext: false), on $name',
  (db) => {
    let dataSource: DataSource;
    let transactions: SagaTransactions;
    let store: TypeOrmSagaStore;
    /** SQLite keeps the implicit context: a run() not joined would wait behind the caller's transaction for ever. */
    const implicit = db.name === 'sqlite';

    beforeEach(async () => {
      dataSource = await db.open();
      transactions = new SagaTransactions(dataSource, { implicitContext: false });
      store = new TypeOrmSagaStore(dataSource, transactions);
    });

    afterEach(() => dataSource.destroy());

    it('joins a nested run() that names the transaction; one that does not has its own', async () => {
      const [outer, named, unnamed] = [instance(), instance(), instance()];
      await expect(
        transactions.run(async (m) => {
          await store.insertInstance(m, outer);
          await transactions.run((nested) => store.insertInstance(nested, named), { within: m });
          await transactions.run((own) => store.insertInstance(own, unnamed));
          expect(transactions.inTransaction()).toBe(implicit);
          throw new Error('the caller failed');
        }),
      ).rejects.toThrow('the caller failed');
      expect(await store.findInstance(dataSource.manager, outer.id)).toBeNull();
      expect(await store.findInstance(dataSource.manager, named.id)).toBeNull();
      // Elsewhere committed on its own, on another connection, before the caller failed.
      expect((await store.findInstance(dataSource.manager, unnamed.id)) !== null).toBe(!implicit);
    });

    it('keeps the afterCommit callbacks named by the manager until the commit, and drops those rolled back', async () => {
      const events: string[] = [];
      let manager: EntityManager | undefined;
      await transactions.run(async (m) => {
        manager = m;
        expect(transactions.isOpen(m)).toBe(true);
        transactions.afterCommit(() => events.push('outer'), m);
        await transactions.savepoint(m, async (step) => {
          transactions.afterCommit(() => events.push('savepoint, kept'), step);
        });
        await expect(
          transactions.savepoint(m, async (step) => {
            transactions.afterCommit(() => events.push('savepoint, rolled back'), step);
            throw new Error('step failed');
          }),
        ).rejects.toThrow('step failed');
        transactions.afterCommit(() => events.push('unnamed')); // found through the context only
        events.push('before commit');
      });
      await expect(
        transactions.run(async (m) => {
          transactions.afterCommit(() => events.push('rolled back'), m);
          throw new Error('outer failed');
        }),
      ).rejects.toThrow('outer failed');
      expect(events).toEqual(
        implicit
          ? ['before commit', 'outer', 'savepoint, kept', 'unnamed']
          : ['unnamed', 'before commit', 'outer', 'savepoint, kept'],
      );
      expect(transactions.isOpen(manager!)).toBe(false);
    });
  },
);

describe.each([postgres, mariadb])('$name transaction semantics the store relies on', (db) => {
  let dataSource: DataSource;
  let transactions: SagaTransactions;
  let store: TypeOrmSagaStore;

  beforeEach(async () => {
    dataSource = await db.open();
    transactions = new SagaTransactions(dataSource);
    store = new TypeOrmSagaStore(dataSource, transactions);
  });

  afterEach(() => dataSource.destroy());

  const duplicateOutsideSavepoint = () =>
    transactions.run(async (m) => {
      await store.insertOutbox(m, [{ messageId: 'dup', body: '{}' }]);
      const error: unknown = await store
        .insertOutbox(m, [{ messageId: 'dup', body: '{}' }])
        .catch((e: unknown) => e);
      expect(isUniqueViolation(error)).toBe(true);
      return store.findInstance(m, 'any');
    });

  if (db.name === 'postgres') {
    it('aborts a transaction after a unique violation outside a savepoint (why recordInbox never raises one)', async () => {
      const error = await duplicateOutsideSavepoint().catch((e: unknown) => e);
      expect(String(error)).toContain('current transaction is aborted');
    });
  } else {
    it('fails only the statement on a unique violation: the transaction goes on (what recordInbox relies on)', async () => {
      expect(await duplicateOutsideSavepoint()).toBeNull();
      expect(await store.claimUnsent(Date.now() + 1, 10, 1000)).toHaveLength(1);
    });
  }

  it('makes a concurrent transaction recording the same inbox id wait, then report it as a duplicate', async () => {
    let recorded!: () => void;
    const firstHasRecorded = new Promise<void>((resolve) => (recorded = resolve));
    const first = transactions.run(async (m) => {
      const duplicates = await store.recordInbox(m, 'payment', ['m1']);
      recorded();
      await new Promise((resolve) => setTimeout(resolve, 150));
      return duplicates;
    });
    await firstHasRecorded;
    const second = transactions.run((m) => store.recordInbox(m, 'payment', ['m1', 'm2']));

    expect(await first).toEqual(new Set());
    expect(await second).toEqual(new Set(['m1']));
    expect(await store.recordInbox(dataSource.manager, 'payment', ['m2'])).toEqual(new Set(['m2']));
  });
});
