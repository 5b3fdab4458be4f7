import { Global, Module } from '@nestjs/common';
import { Clock } from './clock.js';
import { GatewayMetrics } from './gateway-metrics.js';

@Global()
@Module({ providers: [Clock, GatewayMetrics], exports: [Clock, GatewayMetrics] })
export class CommonModule {}
