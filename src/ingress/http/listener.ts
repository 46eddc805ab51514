/**
 * The HTTP submission API's own listener (config `http:`): a Fastify server with just the
 * submission plugin, plain HTTP or HTTPS. Stopping it lets requests in progress finish, so
 * a message being committed is answered, never dropped.
 *
 * X-Forwarded-For is believed only from the proxies in http.trustProxy (Fastify's trustProxy
 * with exactly that list), so an app cannot choose the client address the log and the
 * Received header name. Plain HTTP on a network address is refused here as in the config check.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isLoopbackHost } from '../../config/fields.js';
import { ConfigError } from '../../config/problems.js';
import type { HttpConfig } from '../../config/schema.js';
import { httpPlainHttpProblem } from '../../config/submission.js';
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
    const trustProxy = config.trustProxy.length ? [...config.trustProxy] : false;
    this.server = Fastify({ logger: false, trustProxy, ...https }) as unknown as FastifyInstance;
    void this.server.register(submissionApi, { context, config, log });
  }

  async start(): Promise<AddressInfo> {
    const refused = httpPlainHttpProblem(this.config);
    if (refused) throw new ConfigError([refused]);
    await this.server.listen({ host: this.config.host, port: this.config.port });
    const address = this.server.server.address() as AddressInfo;
    this.log.info({ listener: 'http', address: address.address, port: address.port, tls: this.config.tls.mode }, 'HTTP submission API listening');
    if (this.config.tls.mode === 'none' && !isLoopbackHost(this.config.host)) {
      this.log.warn(
        { listener: 'http', address: address.address, port: address.port, trustProxy: this.config.trustProxy },
        'the HTTP submission API takes API tokens over plain HTTP on a network address, trusting that a TLS proxy in http.trustProxy is in front: make sure nothing but that proxy can reach this port',
      );
    }
    return address;
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
