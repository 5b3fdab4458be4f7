import { Global, Module } from '@nestjs/common';
import { TracingModule } from '../tracing/tracing.module.js';
import { Clock } from './clock.js';
import { GatewayMetrics } from './gateway-metrics.js';

/** What every module may use: the clock, the metrics and (from its own module) tracing. */
@Global()
@Module({
  imports: [TracingModule],
  providers: [Clock, GatewayMetrics],
  exports: [Clock, GatewayMetrics, TracingModule],
})
export class CommonModule {}
