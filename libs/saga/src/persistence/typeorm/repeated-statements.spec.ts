import { RepeatedStatements } from './repeated-statements';

describe('RepeatedStatements', () => {
  const sql = 'UPDATE t SET v = $2 WHERE id = $1';

  it('names a parameterized statement from its second run on, by its content', () => {
    const repeated = new RepeatedStatements();
    expect(repeated.nameFor(sql, 2)).toBeUndefined();
    const name = repeated.nameFor(sql, 2);
    expect(name).toMatch(/^saga_q_[0-9a-f]{32}$/);
    expect(repeated.nameFor(sql, 2)).toBe(name);
    const other = new RepeatedStatements();
    other.nameFor(sql, 2);
    expect(other.nameFor(sql, 2)).toBe(name);
    other.nameFor('SELECT $1', 1);
    expect(other.nameFor('SELECT $1', 1)).not.toBe(name);
  });

  it('never names a statement without parameters, or with more than 64', () => {
    const repeated = new RepeatedStatements();
    for (let i = 0; i < 3; i++) {
      expect(repeated.nameFor('SELECT 1', 0)).toBeUndefined();
      expect(repeated.nameFor('INSERT many', 65)).toBeUndefined();
    }
    repeated.nameFor('INSERT some', 64);
    expect(repeated.nameFor('INSERT some', 64)).toBeDefined();
  });

  it('forgets the statements seen once when too many are, so that later ones can still be prepared', () => {
    const repeated = new RepeatedStatements();
    for (let i = 0; i < 5000; i++) repeated.nameFor(`SELECT ${i}, $1`, 1);
    repeated.nameFor('SELECT later, $1', 1);
    expect(repeated.nameFor('SELECT later, $1', 1)).toBeDefined();
  });

  it('names 256 statements at most', () => {
    const repeated = new RepeatedStatements();
    const texts = Array.from({ length: 300 }, (_, i) => `SELECT ${i}, $1`);
    for (const text of texts) repeated.nameFor(text, 1);
    const named = texts.filter((text) => repeated.nameFor(text, 1) !== undefined);
    expect(named).toHaveLength(256);
    expect(repeated.nameFor(texts[0], 1)).toBeDefined(); // those named keep their name
  });

  it('runs a statement unnamed for good once its prepared form went stale, and only then', () => {
    const repeated = new RepeatedStatements();
    repeated.nameFor(sql, 2);
    const name = repeated.nameFor(sql, 2);
    repeated.failed(sql, Object.assign(new Error('duplicate key'), { code: '23505' }));
    expect(repeated.nameFor(sql, 2)).toBe(name);
    repeated.failed(sql, new Error('no code'));
    expect(repeated.nameFor(sql, 2)).toBe(name);
    repeated.failed(
      sql,
      Object.assign(new Error('cached plan must not change result type'), { code: '0A000' }),
    );
    expect(repeated.nameFor(sql, 2)).toBeUndefined();
    expect(repeated.nameFor(sql, 2)).toBeUndefined();
    const retyped = 'SELECT v FROM t WHERE id = $1';
    repeated.nameFor(retyped, 1);
    repeated.nameFor(retyped, 1);
    repeated.failed(
      retyped,
      Object.assign(new Error('operator does not exist: text = integer'), { code: '42883' }),
    );
    expect(repeated.nameFor(retyped, 1)).toBeUndefined();
    const lost = 'DELETE FROM t WHERE id = $1';
    repeated.nameFor(lost, 1);
    repeated.nameFor(lost, 1);
    repeated.failed(lost, Object.assign(new Error('prepared statement does not exist'), { code: '26000' }));
    expect(repeated.nameFor(lost, 1)).toBeUndefined();
  });
});
