// What the sandbox's Graph stand-in can be told: Microsoft's request and throttling limits.
//
// The defaults are Microsoft's documented values (M365-FACTS.md, "Microsoft Graph sendMail");
// tests lower them to reach a limit in a few requests instead of ten thousand.

export interface GraphSettings {
  /** Largest request body Graph accepts (sendMail, drafts, attachments, one upload chunk): about 4 MB. */
  maxRequestBytes: number;
  /** Requests one app may have running against one mailbox at once (429 MailboxConcurrency beyond). */
  maxConcurrentRequests: number;
  /** Retry-After (seconds) on a MailboxConcurrency refusal: a slot frees as soon as a request ends. */
  concurrencyRetryAfterSeconds: number;
  /** Requests per app and mailbox in `requestWindowSeconds` (10,000 per 10 minutes). */
  requestsPerWindow: number;
  requestWindowSeconds: number;
  /** Bytes uploaded (POST, PUT bodies) per app and mailbox in `uploadWindowSeconds` (150 MB per 5 minutes). */
  uploadBytesPerWindow: number;
  uploadWindowSeconds: number;
  /** Smallest and largest attachment an upload session takes (3 MB and 150 MB). */
  uploadSessionMinBytes: number;
  uploadSessionMaxBytes: number;
  /** How long an upload session's pre-authenticated URL stays valid. */
  uploadSessionLifetimeSeconds: number;
}

const MB = 1024 * 1024;

export const GRAPH_DEFAULTS: GraphSettings = {
  maxRequestBytes: 4 * MB,
  maxConcurrentRequests: 4,
  concurrencyRetryAfterSeconds: 1,
  requestsPerWindow: 10_000,
  requestWindowSeconds: 600,
  uploadBytesPerWindow: 150 * MB,
  uploadWindowSeconds: 300,
  uploadSessionMinBytes: 3 * MB,
  uploadSessionMaxBytes: 150 * MB,
  uploadSessionLifetimeSeconds: 15 * 60,
};

export function graphSettings(given: Partial<GraphSettings> | undefined): GraphSettings {
  return { ...GRAPH_DEFAULTS, ...given };
}
