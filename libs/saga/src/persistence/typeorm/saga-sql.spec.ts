import type { DataSource } from 'typeorm';
import { list, NamedStatement, SagaSql } from './saga-sql';

/** Just what `SagaSql` reads from a DataSource. */
function fakeDataSource(type: string): DataSource {
  return {
    options: { type },
    hasMetadata: () => true,
    getMetadata: () => ({ tablePath: 'public.saga_instance' }),
    driver: { escape: (part: string) => `"${part}"` },
  } as unknown as DataSource;
}

describe('NamedStatement', () => {
  const statement = new NamedStatement('SELECT id FROM saga_instance WHERE id = $1', 'saga_0123');
  const asText = statement as unknown as string;

  it('reads as its SQL text to string code (TypeORM loggers, query subscribers)', () => {
    expect(String(statement)).toBe(statement.text);
    expect(`${asText}`).toBe(statement.text);
    expect(asText.startsWith('SELECT')).toBe(true);
    expect(asText.toLowerCase()).toBe(statement.text.toLowerCase());
    expect(asText.split(' ')[1]).toBe('id');
    expect(/saga_instance/.test(asText)).toBe(true);
    expect(asText.length).toBe(statement.text.length);
  });

  it('has a few own properties, not one per character (pg copies every own property of a query config)', () => {
    expect(Object.getOwnPropertyNames(statement).sort()).toEqual(['length', 'name', 'text']);
  });
});

describe('SagaSql.compile', () => {
  it('numbers placeholders and resolves tables on PostgreSQL, and names small statements by their text', () => {
    const sql = new SagaSql(fakeDataSource('postgres'));
    const compiled = sql.compile('SELECT id FROM {instance} WHERE id = ? AND version = ?');
    expect(compiled).toBeInstanceOf(NamedStatement);
    const { text, name } = compiled as NamedStatement;
    expect(text).toBe('SELECT id FROM "public"."saga_instance" WHERE id = $1 AND version = $2');
    expect(name).toMatch(/^saga_[0-9a-f]{32}$/);
    expect(sql.compile('SELECT id FROM {instance} WHERE id = ? AND version = ?')).toBe(compiled);
    expect(
      (
        new SagaSql(fakeDataSource('postgres')).compile(
          'SELECT id FROM {instance} WHERE id = ? AND version = ?',
        ) as NamedStatement
      ).name,
    ).toBe(name);
  });

  it('leaves large statements, statements beyond the 256th shape, and other databases unprepared', () => {
    const sql = new SagaSql(fakeDataSource('postgres'));
    expect(typeof sql.compile(`SELECT id FROM {instance} WHERE id IN (${list(65)})`)).toBe('string');
    const shapes = Array.from({ length: 300 }, (_, i) =>
      sql.compile(`SELECT ${i} FROM {instance} WHERE id = ?`),
    );
    expect(shapes.filter((c) => c instanceof NamedStatement)).toHaveLength(256);
    expect(typeof new SagaSql(fakeDataSource('postgres'), false).compile('SELECT 1 WHERE 1 = ?')).toBe(
      'string',
    );
    expect(
      new SagaSql(fakeDataSource('better-sqlite3')).compile('SELECT id FROM {instance} WHERE id = ?'),
    ).toBe('SELECT id FROM "public"."saga_instance" WHERE id = ?');
  });
});
