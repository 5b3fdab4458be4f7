import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { LockRequestNotifier, NoWebhookLockRequestNotifier } from './lock-request-notifier.js';
import { notificationsConfig, type NotificationsConfig } from './notifications.config.js';
import { WebhookLockRequestNotifier } from './webhook-lock-request-notifier.js';

@Module({
  imports: [ConfigModule.forFeature(notificationsConfig)],
  providers: [
    {
      provide: LockRequestNotifier,
      inject: [notificationsConfig.KEY, GatewayMetrics],
      useFactory: (config: NotificationsConfig, metrics: GatewayMetrics): LockRequestNotifier =>
        config.webhook === null
          ? new NoWebhookLockRequestNotifier()
          : new WebhookLockRequestNotifier(config.webhook, metrics),
    },
  ],
  exports: [LockRequestNotifier],
})
export class NotificationsModule {}
