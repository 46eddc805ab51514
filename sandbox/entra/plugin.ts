// Entra ID on the sandbox's HTTPS server: discovery, token, authorize, device code.
import type { SandboxHttpPlugin } from '../http-route.js';
import { authorizeRoutes } from './authorize.js';
import { deviceFlowRoutes } from './device-flow.js';
import { discoveryRoutes } from './discovery.js';
import { tokenRoutes } from './token-endpoint.js';

export const entraPlugin: SandboxHttpPlugin = async (app, ctx) => {
  const entra = ctx.entra.context;
  await discoveryRoutes(app, entra);
  await tokenRoutes(app, entra);
  await authorizeRoutes(app, entra);
  await deviceFlowRoutes(app, entra, (origin) => `${origin}/devicelogin`);
};
