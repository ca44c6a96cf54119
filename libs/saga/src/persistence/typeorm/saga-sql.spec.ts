import { NamedStatement } from './saga-sql';

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
