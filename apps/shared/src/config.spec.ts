import { parseDatabaseUrl } from './database';
import { loadServiceConfig } from './service-config';

describe('service configuration', () => {
  const defaults = { serviceName: 'order', port: 3001, databaseUrl: 'sqlite:order.sqlite' };

  it('uses the defaults when nothing is set', () => {
    expect(loadServiceConfig({}, defaults)).toEqual({
      serviceName: 'order',
      port: 3001,
      database: { kind: 'sqlite', file: 'order.sqlite' },
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      queuePrefix: undefined,
    });
  });

  it('reads the environment', () => {
    const config = loadServiceConfig(
      {
        SERVICE_NAME: 'order-eu',
        PORT: '8080',
        DATABASE_URL: 'postgres://u:p@db/orders',
        AMQP_URL: 'amqp://mq',
      },
      defaults,
    );
    expect(config).toMatchObject({
      serviceName: 'order-eu',
      port: 8080,
      database: { kind: 'postgres', url: 'postgres://u:p@db/orders' },
      amqpUrl: 'amqp://mq',
    });
  });

  it('names the variable in its errors', () => {
    expect(() => loadServiceConfig({ PORT: 'http' }, defaults)).toThrow(/PORT must be a port number/);
    expect(() => loadServiceConfig({ DATABASE_URL: 'mysql://x' }, defaults)).toThrow(/DATABASE_URL must be/);
  });

  it('parses the SQLite forms', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', file: ':memory:' });
    expect(parseDatabaseUrl('postgresql://h/db')).toEqual({ kind: 'postgres', url: 'postgresql://h/db' });
  });
});
