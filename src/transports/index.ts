/** Builds the transport of each configured route. */
import type { RouteConfig } from '../config/schema.js';
import { CaptureTransport } from './capture.js';
import { SmarthostTransport } from './smarthost.js';
import type { Transport } from './transport.js';

export function createTransport(route: string, config: RouteConfig, ehloName: string): Transport {
  switch (config.transport) {
    case 'smarthost':
      return new SmarthostTransport(route, config, ehloName);
    case 'capture':
      return new CaptureTransport(route, config);
  }
}
