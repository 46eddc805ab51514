/**
 * The HTTP submission API's own listener (config `http:`): a Fastify server with just the
 * submission plugin, plain HTTP or HTTPS. Stopping it lets requests in progress finish, so
 * a message being committed is answered, never dropped.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpConfig } from '../../config/schema.js';
import type { TlsIdentity } from '../tls.js';
import { submissionApi, type SubmissionContext } from './plugin.js';

export class HttpSubmissionListener {
  private readonly server: FastifyInstance;

  constructor(
    private readonly config: HttpConfig,
    tls: TlsIdentity | null,
    context: () => SubmissionContext,
    private readonly log: Logger,
  ) {
    const https = tls ? { https: { key: tls.key, cert: tls.cert, minVersion: config.tls.minVersion } } : {};
    this.server = Fastify({ logger: false, trustProxy: false, ...https }) as unknown as FastifyInstance;
    void this.server.register(submissionApi, { context, config, log });
  }

  async start(): Promise<AddressInfo> {
    await this.server.listen({ host: this.config.host, port: this.config.port });
    const address = this.server.server.address() as AddressInfo;
    this.log.info({ listener: 'http', address: address.address, port: address.port, tls: this.config.tls.mode }, 'HTTP submission API listening');
    return address;
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
