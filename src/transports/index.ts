/** Builds the transport of each configured route. */
import { DEMO_ROUTE, demoFix, inDemoWords } from '../config/demo-route.js';
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
  const transport = transportOf(route, config, ctx);
  return ctx.demo && route === DEMO_ROUTE ? inDemoTerms(transport) : transport;
}

function transportOf(route: string, config: RouteConfig, ctx: TransportContext): Transport {
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

/** The demo route's outcomes name no key of a relay365.yaml that does not exist (config/demo-route.ts). */
function inDemoTerms(transport: Transport): Transport {
  return {
    route: transport.route,
    kind: transport.kind,
    ...(transport.pacing ? { pacing: transport.pacing } : {}),
    ...(transport.warnings ? { warnings: transport.warnings.map(inDemoWords) } : {}),
    deliver: async (job) => new Map([...(await transport.deliver(job))].map(([idx, o]) => [idx, { ...o, diagnosis: inDemoWords(o.diagnosis), fix: o.fix === null ? null : demoFix(o.fix) }])),
    ...(transport.closeConnection ? { closeConnection: (slot: number) => transport.closeConnection!(slot) } : {}),
    close: () => transport.close(),
  };
}
