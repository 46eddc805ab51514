// The TCP side of an SMTP endpoint: listening, and "down" faults.
//
// A `down` fault in mode `refuse` closes the listening socket, so clients get ECONNREFUSED as from
// a host whose service stopped; when the fault ends (cleared, or its durationMs passed) the
// endpoint listens again on the same port. In mode `close` connections are accepted and closed at
// once, before any greeting. Sessions already open meet the fault at their next command.
import { createServer, type Server, type Socket } from 'node:net';
import type { SandboxContext } from '../context.js';
import type { MicrosoftSmtpServer } from './server.js';

export interface SmtpListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function listenSmtp(ctx: SandboxContext, smtp: MicrosoftSmtpServer, host: string, port: number): Promise<SmtpListener> {
  const endpoint = smtp.profile.endpoint;
  const sockets = new Set<Socket>();
  const net: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (ctx.faults.downMode(endpoint) !== null) {
      ctx.events.record({ endpoint, action: 'CONNECT', outcome: 'fault', message: 'endpoint down (fault, close): connection closed before the greeting' });
      socket.destroy();
      return;
    }
    smtp.connect(socket);
  });
  const boundPort = await listenOn(net, host, port);
  let listening = true;
  let closed = false;
  // One change at a time: a clear that arrives while the listener is still closing waits for it.
  let transition = Promise.resolve();
  const follow = () => {
    transition = transition.then(async () => {
      if (closed) return;
      const refuse = ctx.faults.downMode(endpoint) === 'refuse';
      if (refuse && listening) {
        listening = false;
        await new Promise<void>((resolve) => {
          net.close(() => resolve());
          resolve(); // close's callback waits for open connections; the port is free already
        });
      } else if (!refuse && !listening) {
        await listenOn(net, host, boundPort);
        listening = true;
      }
    });
  };
  const stopFollowing = ctx.faults.onChange((name) => {
    if (name === endpoint) follow();
  });
  follow();

  return {
    port: boundPort,
    close: async () => {
      closed = true;
      stopFollowing();
      await transition.catch(() => undefined);
      for (const connection of smtp.openConnections) connection.close();
      for (const socket of sockets) socket.destroy();
      if (listening) await new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new Error(`the sandbox SMTP server cannot listen on ${host}:${port}: ${e.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
