import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { SagaTransactions } from './persistence/typeorm/transactions';
import { TypeOrmSagaStore } from './persistence/typeorm/typeorm-saga-store';
import { OutboxRelay } from './runtime/outbox-relay';
import { SagaMetrics } from './runtime/metrics';
import { SagaInstanceCache } from './runtime/saga-instance-cache';
import { ParticipantRuntime } from './runtime/participant-runtime';
import { SagaCoordinator } from './runtime/saga-coordinator';
import { SagaStarter } from './runtime/saga-starter';
import { SagaExplorer } from './runtime/saga-explorer';
import { SagaLifecycle } from './runtime/saga-lifecycle';
import { SagaManager } from './runtime/saga-manager';
import { SagaProcessor } from './runtime/saga-processor';
import { SagaRegistry } from './runtime/saga-registry';
import { SagaRuntimeOptions } from './runtime/runtime-options';
import { SagaWaiters } from './runtime/saga-waiters';
import { SAGA_DATA_SOURCE, SAGA_STORE, SAGA_TRANSPORT } from './saga.constants';
import { ConfigurableModuleClass, SAGA_MODULE_OPTIONS } from './saga-module.definition';
import type { SagaModuleOptions } from './saga-module.options';
import { InProcessTransport } from './transport/in-process/in-process.transport';

/**
 * Coordinates the sagas and hosts the participants of this application.
 *
 * `SagaModule.forRoot({ service: 'order' })` or `SagaModule.forRootAsync({ useFactory, inject })`; it uses the
 * application's `@nestjs/typeorm` DataSource (import `TypeOrmModule.forRoot()` with `sagaEntities` and
 * `sagaMigrations`), so business writes and saga writes share one transaction. Saga and participant classes are
 * found among all providers. Global by default (`isGlobal: false` to scope it).
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: SagaRuntimeOptions,
      useFactory: (options: SagaModuleOptions) => new SagaRuntimeOptions(options),
      inject: [SAGA_MODULE_OPTIONS],
    },
    {
      provide: SagaTransactions,
      useFactory: (dataSource: DataSource, { database }: SagaRuntimeOptions) =>
        new SagaTransactions(dataSource, {
          pipelining: database.pipelining,
          prepareRepeated: database.prepareRepeated,
          implicitContext: database.implicitJoin,
        }),
      inject: [SAGA_DATA_SOURCE, SagaRuntimeOptions],
    },
    {
      provide: SAGA_STORE,
      useFactory: (
        dataSource: DataSource,
        transactions: SagaTransactions,
        { database }: SagaRuntimeOptions,
      ) => new TypeOrmSagaStore(dataSource, transactions, { preparedStatements: database.prepareLibrary }),
      inject: [SAGA_DATA_SOURCE, SagaTransactions, SagaRuntimeOptions],
    },
    {
      provide: SAGA_TRANSPORT,
      useFactory: (options: SagaModuleOptions) => options.transport ?? new InProcessTransport(),
      inject: [SAGA_MODULE_OPTIONS],
    },
    SagaRegistry,
    SagaExplorer,
    SagaProcessor,
    SagaWaiters,
    SagaMetrics,
    SagaInstanceCache,
    OutboxRelay,
    SagaCoordinator,
    SagaStarter,
    ParticipantRuntime,
    SagaManager,
    SagaLifecycle,
  ],
  exports: [SagaManager],
})
export class SagaModule extends ConfigurableModuleClass {}
