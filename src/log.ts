/**
 * pino JSON logs on stdout. Every line about a message carries its id as `msgId`, so one
 * grep tells a message's whole story. Values under keys that name secrets are censored
 * wherever they appear, as a second line of defence behind never logging them.
 */
import pino, { type Logger } from 'pino';
import { SECRET_KEYS } from './config/secrets.js';

export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
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
