/**
 * A minimal SMTP client on a raw socket, for load: no parsing beyond reply codes, no
 * pipelining (like smtp-source and most applications, one command at a time), no TLS.
 * It is cheap enough to leave the CPU to the relay on a two-core machine, and it knows
 * the exact moment it handed the end of DATA to the socket, so it can time the 250.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface Reply {
  code: number;
  text: string;
}

export class SmtpClient {
  private readonly socket: Socket;
  private partial = '';
  private lines: string[] = [];
  private readonly replies: Reply[] = [];
  private waiter: { resolve: (reply: Reply) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect({ port, host });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  /** The next complete reply (a multi-line reply is one). */
  reply(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  async command(line: string, expect: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return expectCode(await this.reply(), expect, line);
  }

  /** Greeting and EHLO: a session ready for MAIL FROM. */
  async open(): Promise<void> {
    expectCode(await this.reply(), 220, 'the greeting');
    await this.command('EHLO client.bench', 250);
  }

  /**
   * One message: MAIL, RCPT, DATA, the message (ending in CRLF), the final ".".
   * Returns the milliseconds from handing "." to the socket to the 250.
   */
  async send(from: string, to: string, message: Buffer | Iterable<Buffer>): Promise<number> {
    await this.command(`MAIL FROM:<${from}>`, 250);
    await this.command(`RCPT TO:<${to}>`, 250);
    await this.command('DATA', 354);
    let endOfData: number;
    if (Buffer.isBuffer(message)) {
      // One write: the kernel takes a 10 KB message at once, so "." leaves now.
      this.socket.write(message);
      this.socket.write('.\r\n');
      endOfData = performance.now();
    } else {
      for (const chunk of message) {
        if (!this.socket.write(chunk)) await this.drained();
        if (this.failure) throw this.failure;
      }
      this.socket.write('.\r\n');
      endOfData = performance.now();
    }
    expectCode(await this.reply(), 250, 'end of DATA');
    return performance.now() - endOfData;
  }

  /** Resolves when the socket can take more, or has closed (the next reply() then fails). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** QUIT, wait for the 221 (as well-behaved clients do), close. */
  async quit(): Promise<void> {
    try {
      await this.command('QUIT', 221);
    } finally {
      this.socket.destroy();
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString('latin1')).split('\r\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      this.lines.push(line);
      if (line.charAt(3) === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
      this.lines = [];
      const waiter = this.waiter;
      this.waiter = null;
      if (waiter) waiter.resolve(reply);
      else this.replies.push(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(this.failure);
  }
}

function expectCode(reply: Reply, code: number, after: string): Reply {
  if (reply.code !== code) throw new Error(`expected ${code} after ${after}, got: ${reply.text}`);
  return reply;
}

const LINE = `${'relay365 bench '.repeat(5)}0\r\n`; // 78 bytes, as a mail client would wrap text
const BLOCK = Buffer.from(LINE.repeat(Math.floor((1024 * 1024) / LINE.length)));

/**
 * A plain-text message of exactly `size` bytes (headers included, final CRLF included,
 * the "." terminator not), produced in chunks of about 1 MB so that a 35 MB message never
 * exists whole in the bench either. No line starts with ".", so nothing is dot-stuffed.
 */
export function* messageChunks(size: number, id = 'bench'): Generator<Buffer> {
  const headers = Buffer.from(
    [
      'From: relay365 bench <bench@client.bench>',
      'To: <sink@sink.bench>',
      `Subject: relay365 bench message ${id}`,
      `Message-ID: <${id}@client.bench>`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      '',
    ].join('\r\n'),
  );
  yield headers;
  let left = Math.max(0, size - headers.length);
  while (left >= BLOCK.length) {
    yield BLOCK;
    left -= BLOCK.length;
  }
  const lines = Math.floor(left / LINE.length);
  let rest = left - lines * LINE.length;
  const tail = [LINE.repeat(lines)];
  if (rest === 1 && lines > 0) {
    tail[0] = LINE.repeat(lines - 1);
    rest += LINE.length;
  }
  if (rest >= 2) tail.push(`${'x'.repeat(rest - 2)}\r\n`);
  yield Buffer.from(tail.join(''));
}

export function message(size: number, id?: string): Buffer {
  return Buffer.concat([...messageChunks(size, id)]);
}
