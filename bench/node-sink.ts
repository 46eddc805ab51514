/**
 * The bench's Node sink: an SMTP server (smtp-server) on 127.0.0.1 that reads every
 * message to its end, throws it away and answers 250. It runs as its own process so that
 * it does not share an event loop with the load generator, and speaks like `smtp-sink -c`
 * on stdout: "listening PORT" once, then "mesg=N" (messages received so far, separated
 * by carriage returns) whenever the count changes.
 *
 *   node dist/bench/node-sink.js [PORT]     (default 0: any free port)
 *
 * smtp-server waits 100 ms before its greeting; the relay keeps pooled connections to its
 * smarthost, so that costs once per connection, not per message.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

let received = 0;
let reporting = false;

function report(): void {
  if (reporting) return;
  reporting = true;
  setImmediate(() => {
    reporting = false;
    process.stdout.write(`mesg=${received}\r`);
  });
}

const server = new SMTPServer({
  logger: false,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  maxClients: 1000,
  closeTimeout: 100,
  onData(stream, _session, callback) {
    stream.on('end', () => {
      received++;
      report();
      callback(null, 'Ok: thrown away by the bench sink');
    });
    stream.resume();
  },
});
server.on('error', (err) => process.stderr.write(`node-sink: ${err.message}\n`));

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.server.address() as AddressInfo).port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
