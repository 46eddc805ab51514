/**
 * `capture`: delivers nowhere. Messages are marked delivered and stay in the store for
 * inspection (relay365 queue show), optionally also written out as .eml files — for
 * trying an application's mail settings before any real route exists.
 */
import { mkdir, rename } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CaptureRouteConfig } from '../config/schema.js';
import { outcome, sameForAll, type DeliveryJob, type DeliveryResult, type Transport } from './transport.js';

export class CaptureTransport implements Transport {
  readonly kind = 'capture';

  constructor(
    readonly route: string,
    private readonly config: CaptureRouteConfig,
  ) {}

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    if (this.config.dir) {
      await mkdir(this.config.dir, { recursive: true });
      const file = join(this.config.dir, `${job.messageId}.eml`);
      // Written under a temporary name and renamed, so a reader never sees half a message.
      await pipeline(await job.openMessage(), createWriteStream(`${file}.tmp`));
      await rename(`${file}.tmp`, file);
    }
    const where = this.config.dir ? ` and written to ${join(this.config.dir, `${job.messageId}.eml`)}` : '';
    return sameForAll(job, outcome('delivered', `Captured: kept in the store${where}, not sent anywhere.`));
  }

  async close(): Promise<void> {}
}
