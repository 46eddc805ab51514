// Outlook's throttling of Graph requests, per app and mailbox: concurrency, request rate, upload volume.
//
// Microsoft documents three limits for one app on one mailbox: 4 requests at once, 10,000 requests
// per 10 minutes, 150 MB uploaded per 5 minutes. A request takes its concurrency slot when it
// arrives and keeps it until its response is finished (or the client goes away), so a client
// slowly uploading four bodies holds all four slots, as with Exchange. The windows slide on the
// sandbox clock, so a test moves time forward instead of waiting.
import type { SandboxClock } from '../clock.js';
import { Graph, type GraphError } from './errors.js';
import type { GraphSettings } from './settings.js';

interface Usage {
  running: number;
  /** Times (ms, sandbox clock) of the requests in the current window. */
  requests: number[];
  /** Times and sizes of the bodies uploaded in the current window. */
  uploads: Array<{ at: number; bytes: number }>;
}

export type Admission = { ok: true; release: () => void } | { ok: false; error: GraphError };

export class GraphThrottle {
  private readonly usage = new Map<string, Usage>();

  constructor(
    private readonly settings: () => GraphSettings,
    private readonly clock: SandboxClock,
  ) {}

  /** The key of one app on one mailbox. */
  static key(appId: string, mailbox: string): string {
    return `${appId.toLowerCase()} ${mailbox.toLowerCase()}`;
  }

  /** Lets a request in (taking a slot and counting it), or says which limit it is over and for how long. */
  admit(key: string): Admission {
    const s = this.settings();
    const now = this.clock.now();
    const u = this.usageOf(key, now);
    if (u.running >= s.maxConcurrentRequests) return { ok: false, error: Graph.throttled('MailboxConcurrency', s.concurrencyRetryAfterSeconds) };
    if (u.requests.length >= s.requestsPerWindow) {
      const oldest = u.requests[u.requests.length - s.requestsPerWindow] ?? now;
      return { ok: false, error: Graph.throttled('MailboxRequests', (oldest + s.requestWindowSeconds * 1000 - now) / 1000) };
    }
    u.running += 1;
    u.requests.push(now);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        u.running -= 1;
      },
    };
  }

  /** Counts `bytes` of uploaded body against the window, or refuses them (IncomingBytes) if they would not fit. */
  upload(key: string, bytes: number): GraphError | null {
    const s = this.settings();
    const now = this.clock.now();
    const u = this.usageOf(key, now);
    let used = u.uploads.reduce((sum, x) => sum + x.bytes, 0);
    if (used + bytes > s.uploadBytesPerWindow) {
      // Retry when enough of the window has slid by for this body to fit.
      let waitUntil = now;
      for (const x of u.uploads) {
        if (used + bytes <= s.uploadBytesPerWindow) break;
        used -= x.bytes;
        waitUntil = x.at + s.uploadWindowSeconds * 1000;
      }
      return Graph.throttled('IncomingBytes', (waitUntil - now) / 1000);
    }
    if (bytes > 0) u.uploads.push({ at: now, bytes });
    return null;
  }

  private usageOf(key: string, now: number): Usage {
    let u = this.usage.get(key);
    if (!u) {
      u = { running: 0, requests: [], uploads: [] };
      this.usage.set(key, u);
    }
    const s = this.settings();
    const requestsFrom = now - s.requestWindowSeconds * 1000;
    const uploadsFrom = now - s.uploadWindowSeconds * 1000;
    while (u.requests.length > 0 && u.requests[0]! <= requestsFrom) u.requests.shift();
    while (u.uploads.length > 0 && u.uploads[0]!.at <= uploadsFrom) u.uploads.shift();
    return u;
  }
}
