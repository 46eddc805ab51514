/**
 * A raw SMTP conversation over a socket, for protocol scenarios: a line of client input,
 * the exact reply expected. Nothing here interprets SMTP beyond splitting replies.
 */
import { connect, type Socket } from 'node:net';

export class SmtpTalk {
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** `localAddress`: the client's own address, e.g. 127.0.0.2 to be another client on loopback. */
  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<SmtpTalk> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(new SmtpTalk(socket)));
      socket.once('error', reject);
    });
  }

  /** The next complete reply (all its lines joined by \n), waiting up to timeoutMs. */
  async reply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0].trimEnd().split('\r\n').join('\n');
      }
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; have ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends one command line and returns its reply. */
  async command(line: string, timeoutMs?: number): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
