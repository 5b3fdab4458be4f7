import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TracerRegistration } from './tracer-registration.js';
import { Tracing } from './tracing.js';
import { tracingConfig } from './tracing.config.js';

/** Tracing for every module: the provider, when configured, and the one port spans go through. */
@Global()
@Module({
  imports: [ConfigModule.forFeature(tracingConfig)],
  providers: [TracerRegistration, Tracing],
  exports: [Tracing],
})
export class TracingModule {}
