/**
 * pino logs on stdout: JSON lines for journald, Docker and log shippers, and human lines
 * (pino-pretty: time, level, message, fields on one line) when stdout is a terminal — an admin
 * trying relay365 by hand reads them as they come. log.format forces either. The same censored
 * line is behind both: pretty-printing happens after censoring, on the JSON line.
 *
 * Every line about a message carries its id as `msgId`, so one grep tells a message's whole
 * story. Values under names that hold secrets (isSecretKey: clientSecret, refresh_token,
 * Authorization, Set-Cookie, X-Api-Key…) are censored wherever they appear, at any depth and in child loggers' fields, as a second line of defence behind
 * never logging them. pino's own `redact` cannot do this: its paths have a fixed depth and
 * spelling, so a header two levels further down an error object would pass.
 */
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { isSecretKey } from './config/secrets.js';

export const CENSORED = '[secret]';
/** Deeper than any log object relay365 writes; beyond it a value is not written at all. */
const MAX_DEPTH = 32;

/**
 * A copy of a log object with every secret-named value censored. Errors become pino's
 * serialized form first (type, message, stack and their own fields, which is where an HTTP
 * client keeps the request's headers), so their fields are censored too.
 */
export function censorSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Error) return censorSecrets(pino.stdSerializers.err(value), depth, seen);
    if (Buffer.isBuffer(value)) return value;
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return censorSecrets((value as { toJSON(): unknown }).toJSON(), depth + 1, seen);
    if (Array.isArray(value)) return value.map((v) => censorSecrets(v, depth + 1, seen));
    const copy: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) copy[key] = isSecretKey(key) && v !== undefined && v !== null ? CENSORED : censorSecrets(v, depth + 1, seen);
    return copy;
  } finally {
    seen.delete(value);
  }
}

/**
 * The last log lines this process wrote, as written (secrets already censored): attached to
 * the admins' "relay365 stopping" mail, as enaio attaches its log files.
 */
export class RecentLines {
  private readonly lines: string[] = [];
  constructor(private readonly capacity: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  last(n: number): string[] {
    return n > 0 ? this.lines.slice(-n) : [];
  }
}

export const recentLines = new RecentLines(2000);

export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LogOptions {
  level: string;
  /** auto: human lines when the output is stdout and stdout is a terminal, JSON otherwise. Default json. */
  format?: LogFormat;
}

/** Human lines: local time, level and message, then the line's fields, as pino-pretty writes them. */
function prettyLines(colorize: boolean): (jsonLine: string) => string {
  return pinoPretty.prettyFactory({ colorize, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true });
}

/**
 * `options`: the level alone (JSON lines), or log.level and log.format from the config. Without
 * `output`, lines go to stdout, where format auto looks whether it is a terminal.
 */
export function createLogger(options: string | LogOptions, output?: pino.DestinationStream): Logger {
  const { level, format = 'json' } = typeof options === 'string' ? { level: options } : options;
  const toStdout = output === undefined;
  const sink = output ?? pino.destination({ dest: 1, sync: false });
  const pretty = format === 'pretty' || (format === 'auto' && toStdout && process.stdout.isTTY === true) ? prettyLines(toStdout && pinoPretty.isColorSupported) : null;
  const destination = {
    write(line: string) {
      recentLines.push(line.trimEnd()); // the admins' "stopping" mail attaches JSON lines, whatever the terminal shows
      sink.write(pretty ? pretty(line) : line);
    },
    flush(done?: (err?: Error) => void) {
      const flushable = sink as { flush?: (cb: (err?: Error) => void) => void };
      if (flushable.flush) flushable.flush(done ?? (() => undefined));
      else done?.();
    },
  };
  const logger = pino(
    {
      name: 'relay365',
      level,
      base: { pid: process.pid },
      formatters: {
        log: (object) => censorSecrets(object) as Record<string, unknown>,
        bindings: (bindings) => censorSecrets(bindings) as pino.Bindings,
      },
      // Errors are serialized while censoring (censorSecrets); pino's serializer would take the result for another error.
      serializers: { err: (value: unknown) => value },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  // pino formats only the root's bindings; a child's fields (log.child({ … })) are censored here,
  // on the root, whose child() every child logger inherits.
  type Child = (this: unknown, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const child = logger.child as unknown as Child;
  const censoredChild: Child = function (bindings, options) {
    return child.call(this, censorSecrets(bindings) as pino.Bindings, options);
  };
  logger.child = censoredChild as unknown as typeof logger.child;
  return logger;
}

export type { Logger };
