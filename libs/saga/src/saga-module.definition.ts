import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SagaModuleOptions } from './saga-module.options';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: SAGA_MODULE_OPTIONS } =
  new ConfigurableModuleBuilder<SagaModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();
