import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SagaModule, sagaEntities, sagaMigrations } from 'nestjs-saga';
import { rabbitMqTransport } from 'nestjs-saga/rabbitmq';
import {
  dataSourceOptions,
  ensurePostgresDatabase,
  type EntityDeclaration,
  type MigrationClass,
} from './database';
import type { ServiceConfig } from './service-config';

const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');

/** Provides one service's configuration, read once from its environment. */
@Module({})
class ServiceConfigModule {
  static register(load: () => ServiceConfig): DynamicModule {
    return {
      module: ServiceConfigModule,
      providers: [{ provide: SERVICE_CONFIG, useFactory: load }],
      exports: [SERVICE_CONFIG],
    };
  }
}

/**
 * The infrastructure of a stand-alone service: its own database (the app's tables and the saga tables,
 * migrated at startup) and the RabbitMQ saga transport, both configured from the environment.
 */
export function serviceInfrastructure(
  load: () => ServiceConfig,
  schema: { entities: EntityDeclaration[]; migrations: MigrationClass[] },
): DynamicModule[] {
  const config = ServiceConfigModule.register(load);
  return [
    TypeOrmModule.forRootAsync({
      imports: [config],
      inject: [SERVICE_CONFIG],
      useFactory: async (c: ServiceConfig) => {
        if (c.database.kind === 'postgres') await ensurePostgresDatabase(c.database.url);
        return dataSourceOptions(c.database, {
          entities: [...schema.entities, ...sagaEntities],
          migrations: [...schema.migrations, ...sagaMigrations],
        });
      },
    }),
    SagaModule.forRootAsync({
      imports: [config],
      inject: [SERVICE_CONFIG],
      useFactory: (c: ServiceConfig) => ({
        service: c.serviceName,
        transport: rabbitMqTransport({ url: c.amqpUrl, prefix: c.queuePrefix }),
      }),
    }),
  ];
}
