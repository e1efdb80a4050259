/**
 * The node's webhooks (config `webhooks:`): built and started once the
 * node listens, listed at /v1/webhooks, closed (positions stored) before
 * the stream store closes.
 */
import type { MeshNode } from '../pipeline/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { FileDeliveryPosition } from './delivery-position.js';
import { Webhook } from './webhook.js';
import type { WebhookConfig } from './webhook-config.js';

export interface WebhookSet {
  readonly webhooks: readonly Webhook[];
  status(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startWebhooks(
  configs: readonly WebhookConfig[],
  o: {
    node: MeshNode;
    streams: StreamManager;
    /** Where positions are stored; null: not stored (the memory engine, whose streams do not outlive the process). */
    storageDir: string | null;
    log: (line: string) => void;
  },
): Promise<WebhookSet> {
  const m = o.node.metrics;
  const webhooks = configs.map((config) => {
    const labels = { webhook: config.name };
    const hook = new Webhook({
      config,
      node: o.node,
      streams: o.streams,
      position:
        config.stream === undefined || config.consumer !== undefined || o.storageDir === null
          ? null
          : new FileDeliveryPosition(o.storageDir, config.name, o.log),
      origin: config.origin ?? o.node.nodeId,
      log: o.log,
      metrics: {
        delivered: m.counter('meshgate_webhook_delivered_total', 'Events a webhook target accepted (2xx)', labels),
        retried: m.counter('meshgate_webhook_retries_total', 'Webhook requests retried after a 5xx, 408, 429, timeout or connection error', labels),
        failed: m.counter(
          'meshgate_webhook_failed_total',
          'Events a webhook gave up: refused with a 4xx (dead-lettered), retries exhausted, or its live queue full',
          labels,
        ),
        disabled: m.counter('meshgate_webhook_disabled_total', 'Webhooks disabled: handshake refused, 410 Gone, or their stream missing', labels),
      },
    });
    return hook;
  });
  await Promise.all(webhooks.map((w) => w.start()));
  return {
    webhooks,
    status: () => webhooks.map((w) => w.status()),
    close: async () => {
      await Promise.all(webhooks.map((w) => w.close()));
    },
  };
}
