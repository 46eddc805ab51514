/** Builds the transport of each configured route. */
import type { RouteConfig } from '../config/schema.js';
import { CaptureTransport } from './capture.js';
import { SmarthostTransport } from './smarthost.js';
import { ConnectorTransport } from './m365/connector.js';
import { DirectSendTransport } from './m365/direct-send.js';
import { GraphTransport } from './m365/graph.js';
import { SmtpBasicTransport } from './m365/smtp-basic.js';
import { createSmtpOAuthTransport } from './m365/smtp-oauth.js';
import type { Transport, TransportContext } from './transport.js';

export function createTransport(route: string, config: RouteConfig, ctx: TransportContext): Transport {
  switch (config.transport) {
    case 'smarthost':
      return new SmarthostTransport(route, config, ctx.ehloName);
    case 'capture':
      return new CaptureTransport(route, config);
    case 'smtp-basic':
      return new SmtpBasicTransport(route, config, ctx);
    case 'direct-send':
      return new DirectSendTransport(route, config, ctx);
    case 'connector':
      return new ConnectorTransport(route, config, ctx);
    case 'smtp-oauth':
      return createSmtpOAuthTransport(route, config, ctx);
    case 'graph':
      return new GraphTransport(route, config, ctx);
  }
}
