import { Socket } from 'node:net';
import type { DataSource, EntityManager } from 'typeorm';
import { SagaTransactions } from '../../libs/saga/src/persistence/typeorm';
import { testDatabases } from './databases';

/**
 * Pipelined transactions on a real PostgreSQL: BEGIN leaves with the first statement, COMMIT with the last one when
 * the caller says which that is — and the transaction means exactly what it meant without pipelining.
 */
describe.each(testDatabases('saga_pipelining').filter((db) => db.name === 'postgres'))(
  'SagaTransactions pipelining on $name',
  (db) => {
    let dataSource: DataSource;

    beforeEach(async () => {
      dataSource = await db.open({ migrate: false });
      await dataSource.query('DROP TABLE IF EXISTS t');
      await dataSource.query('CREATE TABLE t (id int PRIMARY KEY)');
    });
    afterEach(() => dataSource.destroy());

    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const ids = async (): Promise<number[]> =>
      (await dataSource.query<{ id: number }[]>('SELECT id FROM t ORDER BY id')).map((r) => r.id);

    /** Socket writes (system calls) to the database made while `work` runs, and its result. */
    async function writesDuring<T>(work: () => Promise<T>): Promise<{ writes: number; result: T }> {
      const write = jest.spyOn(Socket.prototype as unknown as { _write: () => void }, '_write');
      const writev = jest.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
      try {
        const result = await work();
        return { writes: write.mock.calls.length + writev.mock.calls.length, result };
      } finally {
        write.mockRestore();
        writev.mockRestore();
      }
    }

    const twoInserts = (transactions: SagaTransactions) => (m: EntityManager) =>
      m.query('INSERT INTO t VALUES (1)').then(() => {
        transactions.commitAfterNextStatement(m);
        return m.query('INSERT INTO t VALUES (2)');
      });

    it('sends BEGIN with the first statement and COMMIT with the last: two writes instead of four', async () => {
      const pipelined = new SagaTransactions(dataSource);
      const plain = new SagaTransactions(dataSource, { pipelining: false });
      await pipelined.run(async () => undefined); // connects the pool's client outside the count
      expect((await writesDuring(() => pipelined.run(twoInserts(pipelined)))).writes).toBe(2);
      await dataSource.query('DELETE FROM t');
      expect((await writesDuring(() => plain.run(twoInserts(plain)))).writes).toBe(4);
      expect(await ids()).toEqual([1, 2]);
    });

    it('sends nothing for a transaction that ran no statement', async () => {
      const transactions = new SagaTransactions(dataSource);
      await transactions.run(async () => undefined);
      const { writes, result } = await writesDuring(() => transactions.run(async () => 'done'));
      expect(writes).toBe(0);
      expect(result).toBe('done');
    });

    it('commits nothing when the last statement fails: the COMMIT sent along is answered with ROLLBACK', async () => {
      const transactions = new SagaTransactions(dataSource);
      const error = await transactions
        .run(async (m) => {
          await m.query('INSERT INTO t VALUES (1)');
          expect(transactions.commitAfterNextStatement(m)).toBe(true);
          await m.query('INSERT INTO t VALUES (1)'); // duplicate key
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/duplicate key/);
      expect(await ids()).toEqual([]);
      // The connection went back to the pool in a usable state.
      await transactions.run((m) => m.query('INSERT INTO t VALUES (3)'));
      expect(await ids()).toEqual([3]);
    });

    it('refuses to commit a transaction whose failed statement the caller swallowed', async () => {
      const transactions = new SagaTransactions(dataSource);
      const error = await transactions
        .run(async (m) => {
          await m.query('INSERT INTO t VALUES (1)');
          await m.query('SELECT 1/0').catch(() => undefined); // aborts the transaction on PostgreSQL
          transactions.commitAfterNextStatement(m);
          await m.query('INSERT INTO t VALUES (2)').catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/rolled back/);
      expect(await ids()).toEqual([]);
    });

    it('reports as failed a COMMIT sent on its own after a swallowed failure (the server rolled back)', async () => {
      const transactions = new SagaTransactions(dataSource);
      const error = await transactions
        .run(async (m) => {
          await m.query('INSERT INTO t VALUES (1)');
          await m.query('SELECT 1/0').catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/rolled back/);
      expect(await ids()).toEqual([]);
    });

    it('refuses a statement after the last one, whose COMMIT has gone out', async () => {
      const transactions = new SagaTransactions(dataSource);
      const error = await transactions
        .run(async (m) => {
          transactions.commitAfterNextStatement(m);
          await m.query('INSERT INTO t VALUES (1)');
          await m.query('INSERT INTO t VALUES (2)');
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/after the transaction's last one/);
      expect(await ids()).toEqual([1]); // committed with its last statement
    });

    it('does not send COMMIT early from a savepoint or outside run(), and savepoints work with a held BEGIN', async () => {
      const transactions = new SagaTransactions(dataSource);
      await transactions.run(async (m) => {
        expect(transactions.commitAfterNextStatement(dataSource.manager)).toBe(false); // not this transaction's
        await transactions
          .savepoint(m, async (inner) => {
            expect(transactions.commitAfterNextStatement(inner)).toBe(false);
            await inner.query('INSERT INTO t VALUES (1)');
            throw new Error('undo the savepoint');
          })
          .catch(() => undefined);
        await m.query('INSERT INTO t VALUES (2)');
      });
      expect(transactions.commitAfterNextStatement(dataSource.manager)).toBe(false);
      expect(await ids()).toEqual([2]);
    });

    it('runs concurrent transactions on their own connections, each pipelined', async () => {
      const transactions = new SagaTransactions(dataSource);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          transactions.run(async (m) => {
            await m.query('SELECT pg_sleep(0.01)');
            transactions.commitAfterNextStatement(m);
            await m.query('INSERT INTO t VALUES ($1)', [i]);
          }),
        ),
      );
      expect(await ids()).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('runs afterCommit callbacks once the COMMIT is answered, before the connection goes back to the pool', async () => {
      const transactions = new SagaTransactions(dataSource);
      const pool = (dataSource.driver as unknown as { master: { idleCount: number; totalCount: number } })
        .master;
      await transactions.run(async () => undefined);
      const seen: { idle: number; total: number }[] = [];
      const outcome = transactions.run(async (m) => {
        transactions.commitAfterNextStatement(m);
        await m.query('INSERT INTO t VALUES (7)');
        transactions.afterCommit(() => seen.push({ idle: pool.idleCount, total: pool.totalCount }));
        return 'done';
      });
      await expect(outcome).resolves.toBe('done');
      expect(seen).toHaveLength(1);
      // The transaction's connection was still checked out when the callback ran.
      expect(seen[0].idle).toBe(seen[0].total - 1);
      expect(await ids()).toEqual([7]);
      // A transaction that fails runs none of its callbacks.
      const dropped: string[] = [];
      await expect(
        transactions.run(async (m) => {
          transactions.afterCommit(() => dropped.push('rolled back'));
          transactions.commitAfterNextStatement(m);
          await m.query('INSERT INTO t VALUES (7)');
        }),
      ).rejects.toThrow();
      expect(dropped).toEqual([]);
    });
    describe('stepping aside after publishing (stepAside)', () => {
      /** Runs a transaction that "publishes" (an afterCommit callback); says whether it waited 1 ms after it. */
      async function steppedAside(
        transactions: SagaTransactions,
        options: { stepAside?: boolean },
        publishes = true,
      ): Promise<boolean> {
        const timers = jest.spyOn(global, 'setTimeout');
        const order: string[] = [];
        try {
          await transactions.run(async (m) => {
            transactions.commitAfterNextStatement(m);
            await m.query('SELECT 1');
            if (publishes) transactions.afterCommit(() => order.push('published'));
          }, options);
          order.push('returned');
          if (publishes) expect(order).toEqual(['published', 'returned']);
          return timers.mock.calls.some(([, ms]) => ms === 1);
        } finally {
          timers.mockRestore();
        }
      }

      it('waits after its publishes when the process was quiet, not when transactions come back to back', async () => {
        const transactions = new SagaTransactions(dataSource);
        try {
          await transactions.run(async () => undefined);
          await sleep(5);
          expect(await steppedAside(transactions, { stepAside: true })).toBe(true);
          // The next one starts right after: under load, no waiting.
          expect(await steppedAside(transactions, { stepAside: true })).toBe(false);
          await sleep(5);
          expect(await steppedAside(transactions, {})).toBe(false); // not asked
          await sleep(5);
          expect(await steppedAside(transactions, { stepAside: true }, false)).toBe(false); // published nothing
        } finally {
          await transactions.close();
        }
      });

      it('does not wait while another transaction of the process is running', async () => {
        const transactions = new SagaTransactions(dataSource);
        try {
          await transactions.run(async () => undefined);
          await sleep(5);
          let finish!: () => void;
          const other = transactions.run(async (m) => {
            await m.query('SELECT 1');
            await new Promise<void>((resolve) => (finish = resolve));
          });
          await sleep(5);
          expect(await steppedAside(transactions, { stepAside: true })).toBe(false);
          finish();
          await other;
        } finally {
          await transactions.close();
        }
      });
    });

    describe('the connection kept for the next transaction', () => {
      type Pool = { idleCount: number; totalCount: number };
      type PgPool = { connect(): Promise<{ release(): void }> };
      const pool = (): Pool => (dataSource.driver as unknown as { master: Pool }).master;
      const backend = (m: EntityManager) =>
        m.query<{ pid: number }[]>('SELECT pg_backend_pid() AS pid').then((rows) => rows[0].pid);

      it('runs back-to-back transactions on one connection, and gives it back to the pool when idle', async () => {
        const transactions = new SagaTransactions(dataSource);
        const created = jest.spyOn(dataSource, 'createQueryRunner');
        try {
          const first = await transactions.run(backend);
          const second = await transactions.run(backend);
          expect(second).toBe(first);
          expect(created).toHaveBeenCalledTimes(1);
          expect(pool().idleCount).toBe(pool().totalCount - 1); // kept, not in the pool
          await sleep(250);
          expect(pool().idleCount).toBe(pool().totalCount); // idle for long enough: back in the pool
          expect(await transactions.run(backend)).toBe(first); // the pool's most recent connection
          expect(created).toHaveBeenCalledTimes(2);
        } finally {
          created.mockRestore();
          await transactions.close();
        }
      });

      it('keeps one connection however many transactions ran at once, and none of a failed one', async () => {
        const transactions = new SagaTransactions(dataSource);
        await Promise.all(
          Array.from({ length: 5 }, () => transactions.run((m) => m.query('SELECT pg_sleep(0.02)'))),
        );
        expect(pool().totalCount).toBeGreaterThanOrEqual(5);
        expect(pool().idleCount).toBe(pool().totalCount - 1);
        await expect(transactions.run((m) => m.query('SELECT * FROM no_such_table'))).rejects.toThrow();
        expect(pool().idleCount).toBe(pool().totalCount); // the failed transaction's connection was released
        await transactions.close();
      });

      it('keeps none while someone waits for a connection of the pool: it goes to them at once', async () => {
        const transactions = new SagaTransactions(dataSource);
        const master = (dataSource.driver as unknown as { master: Pool & PgPool }).master;
        const held = await Promise.all(Array.from({ length: 9 }, () => master.connect())); // of its 10
        try {
          let waiter: Promise<{ release(): void }> | undefined;
          await transactions.run(async (m) => {
            await m.query('SELECT 1');
            waiter = master.connect(); // the pool is full: waits for a connection
          });
          const got = await Promise.race([waiter!, sleep(50).then(() => 'still waiting')]);
          void waiter!.then((client) => client.release()); // whenever it gets one
          expect(got).not.toBe('still waiting');
        } finally {
          for (const client of held) client.release();
          await transactions.close();
        }
      });

      it('does not reuse a kept connection that broke, and keeps none after close()', async () => {
        const transactions = new SagaTransactions(dataSource);
        const kept = await transactions.run(backend);
        await dataSource.query('SELECT pg_terminate_backend($1)', [kept]);
        await sleep(50); // the client sees its connection end
        const next = await transactions.run(async (m) => {
          await m.query('INSERT INTO t VALUES (1)');
          return backend(m);
        });
        expect(next).not.toBe(kept);
        expect(await ids()).toEqual([1]);
        await transactions.close();
        expect(pool().idleCount).toBe(pool().totalCount);
        await transactions.run(backend);
        expect(pool().idleCount).toBe(pool().totalCount); // closed: the connection went straight back
      });
    });

    it('sends a repeated parameterized statement as a prepared one, and recovers when it goes stale', async () => {
      const transactions = new SagaTransactions(dataSource);
      await dataSource.query('INSERT INTO t VALUES (1)');
      const read = 'SELECT id FROM t WHERE id = $1';
      const prepared = (m: EntityManager) =>
        m.query<{ n: string }[]>('SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1', [
          read,
        ]);
      // First run unnamed; from the second on, by name (in the session that ran it).
      expect(await transactions.run((m) => m.query(read, [1]).then(() => prepared(m)))).toEqual([{ n: '0' }]);
      expect(await transactions.run((m) => m.query(read, [1]).then(() => prepared(m)))).toEqual([{ n: '1' }]);
      // The column changes type: the prepared statement (its parameter typed as an integer) fails at most once,
      // then the statement runs unnamed and sees the new type.
      await dataSource.query('ALTER TABLE t ALTER COLUMN id TYPE text');
      const results: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        results.push(
          await transactions
            .run((m) => m.query(read, ['1']))
            .catch((e: { code?: string }) => `error ${e.code}`),
        );
      }
      const failures = results.filter((r) => typeof r === 'string');
      expect(failures.length).toBeLessThanOrEqual(1);
      expect(failures.every((f) => /^error (42|0A000)/.test(f))).toBe(true);
      expect(results[1]).toEqual([{ id: '1' }]);
      expect(results[2]).toEqual([{ id: '1' }]);
      // Turned off (`database.preparedStatements: 'library'` or false): statements go as TypeORM sends them.
      const plain = new SagaTransactions(dataSource, { prepareRepeated: false });
      const other = 'SELECT id FROM t WHERE id = $1 AND true';
      const count = (m: EntityManager) =>
        m.query<{ n: string }[]>('SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1', [
          other,
        ]);
      for (let i = 0; i < 3; i++) {
        expect(await plain.run((m) => m.query(other, ['1']).then(() => count(m)))).toEqual([{ n: '0' }]);
      }
    });
  },
);
