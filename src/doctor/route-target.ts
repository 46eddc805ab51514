/**
 * What the doctor checks a route against: the endpoint it connects to (host, port, and whether it
 * speaks SMTP with STARTTLS or HTTPS), the facts every fix is filled with, and the CAs it trusts.
 */
import type { RouteConfig } from '../config/schema.js';
import { mxHostFor } from '../transports/m365/mx-host.js';
import type { RouteFacts } from '../transports/m365/route-facts.js';
import { submissionEndpoint } from '../transports/m365/smtp-submission.js';

export interface RouteEndpoint {
  host: string;
  port: number;
  /** smtp: STARTTLS (required, or opportunistic for Direct Send / a smarthost that allows it); https: TLS from the first byte; none: no TLS check. */
  protocol: 'smtp' | 'https';
  tls: 'required' | 'opportunistic' | 'implicit' | 'none';
}

export interface RouteTarget {
  name: string;
  config: RouteConfig;
  /** null for capture routes (nothing to connect to). */
  endpoint: RouteEndpoint | null;
  /** null for smarthost and capture routes (no Microsoft fixes apply). */
  facts: RouteFacts | null;
  /** Extra CA files to trust besides Node's roots. */
  ca: string[];
}

export function routeTarget(name: string, config: RouteConfig): RouteTarget {
  switch (config.transport) {
    case 'capture':
      return { name, config, endpoint: null, facts: null, ca: [] };
    case 'smarthost': {
      const tls = config.tls === 'starttls' ? 'required' : config.tls;
      return { name, config, endpoint: { host: config.host, port: config.port, protocol: 'smtp', tls }, facts: null, ca: config.ca };
    }
    case 'graph': {
      const url = new URL(config.endpoint);
      const endpoint: RouteEndpoint = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), protocol: 'https', tls: 'implicit' };
      return { name, config, endpoint, facts: { route: name, transport: 'graph', mailbox: config.mailbox, tenant: config.credentials.tenant, clientId: config.credentials.clientId, endpoint: config.endpoint }, ca: config.ca };
    }
    case 'smtp-oauth':
    case 'smtp-basic': {
      const { host, port } = submissionEndpoint(config);
      const facts: RouteFacts = { route: name, transport: config.transport, mailbox: config.mailbox, endpoint: `${host}:${port}` };
      if (config.transport === 'smtp-oauth') Object.assign(facts, { tenant: config.credentials.tenant, clientId: config.credentials.clientId });
      return { name, config, endpoint: { host, port, protocol: 'smtp', tls: 'required' }, facts, ca: config.ca };
    }
    case 'direct-send':
    case 'connector': {
      const host = config.host ?? mxHostFor(config.domain);
      const tls = config.transport === 'connector' ? 'required' : 'opportunistic';
      return { name, config, endpoint: { host, port: config.port, protocol: 'smtp', tls }, facts: { route: name, transport: config.transport, domain: config.domain, endpoint: `${host}:${config.port}` }, ca: config.ca };
    }
  }
}
