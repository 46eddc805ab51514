/**
 * pino JSON logs on stdout. Every line about a message carries its id as `msgId`, so one
 * grep tells a message's whole story. Values under keys that name secrets are censored
 * wherever they appear, as a second line of defence behind never logging them.
 */
import pino, { type Logger } from 'pino';
import { SECRET_KEYS } from './config/secrets.js';

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

export function createLogger(level: string, output: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  const destination = {
    write(line: string) {
      recentLines.push(line.trimEnd());
      output.write(line);
    },
    flush(done?: (err?: Error) => void) {
      const flushable = output as { flush?: (cb: (err?: Error) => void) => void };
      if (flushable.flush) flushable.flush(done ?? (() => undefined));
      else done?.();
    },
  };
  return pino(
    {
      name: 'relay365',
      level,
      base: { pid: process.pid },
      redact: { paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), censor: '[secret]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
