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

/**
 * The demo route's outcomes name no key of a relay365.yaml that does not exist (config/demo-route.ts).
 * Everything else is the transport's own (its mailbox for bounces, its pacing): a proxy, so that what a
 * transport gains later is not lost here.
 */
function inDemoTerms(transport: Transport): Transport {
  const deliver: Transport['deliver'] = async (job) =>
    new Map([...(await transport.deliver(job))].map(([idx, o]) => [idx, { ...o, diagnosis: inDemoWords(o.diagnosis), fix: o.fix === null ? null : demoFix(o.fix) }]));
  return new Proxy(transport, {
    get(target, key) {
      if (key === 'deliver') return deliver;
      if (key === 'warnings') return target.warnings?.map(inDemoWords);
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
