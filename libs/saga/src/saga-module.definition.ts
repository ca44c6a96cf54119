import { ConfigurableModuleBuilder } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { SAGA_DATA_SOURCE } from './saga.constants';
import type { SagaModuleOptions } from './saga-module.options';

/** Options fixed when the module is imported (not by an async factory). */
export interface SagaModuleExtras {
  /** Register the module globally (SagaManager injectable everywhere). Default true. */
  isGlobal?: boolean;
  /** The `@nestjs/typeorm` data source name, when the app has several. Default: the default data source. */
  dataSourceName?: string;
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: SAGA_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<SagaModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras<SagaModuleExtras>({ isGlobal: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      providers: [
        ...(definition.providers ?? []),
        { provide: SAGA_DATA_SOURCE, useExisting: getDataSourceToken(extras.dataSourceName) },
      ],
    }))
    .build();
