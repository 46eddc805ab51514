// POST /{tenant}/oauth2/v2.0/token: one route, one handler per grant type.
import type { FastifyInstance } from 'fastify';
import { describe } from '../http-route.js';
import { findUser } from '../tenant/accessors.js';
import type { EntraContext } from './context.js';
import { Aad } from './errors.js';
import { authorizationCodeGrant } from './grant-authorization-code.js';
import { clientCredentialsGrant } from './grant-client-credentials.js';
import { DEVICE_CODE_GRANT, deviceCodeGrant } from './grant-device-code.js';
import { refreshTokenGrant } from './grant-refresh-token.js';
import { fieldsOf, originOf, sendAadError, tenantFromPath, transientErrorBody } from './http-helpers.js';
import type { TokenOutcome, TokenRequest } from './token-request.js';

const GRANTS: Record<string, (req: TokenRequest) => Promise<TokenOutcome>> = {
  client_credentials: clientCredentialsGrant,
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  [DEVICE_CODE_GRANT]: deviceCodeGrant,
  // What msal-node sends; Entra accepts the short name as well as the RFC 8628 URN.
  device_code: deviceCodeGrant,
};

export async function tokenRoutes(app: FastifyInstance, ctx: EntraContext): Promise<void> {
  app.post<{ Params: { tenant: string } }>(
    '/:tenant/oauth2/v2.0/token',
    { config: { endpoint: 'token', faultBody: () => transientErrorBody(ctx) } },
    async (request, reply) => {
      const params = fieldsOf(request.body);
      const grantType = params.grant_type ?? '';
      describe(request, { action: grantType === DEVICE_CODE_GRANT ? 'device_code' : grantType || '(no grant_type)', ...(params.client_id ? { appId: params.client_id } : {}) });
      const tenant = tenantFromPath(ctx, request.params.tenant);
      if (!tenant.ok) return sendAadError(ctx, request, reply, tenant.error);
      if (!grantType) return sendAadError(ctx, request, reply, Aad.missingParameter('grant_type'));
      const grant = GRANTS[grantType];
      if (!grant) return sendAadError(ctx, request, reply, Aad.unsupportedGrantType(grantType));
      const outcome = await grant({
        ctx,
        tenant: tenant.value,
        origin: originOf(request),
        params,
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
      });
      const user = outcome.detail.user ? (findUser(tenant.value, outcome.detail.user)?.address ?? outcome.detail.user) : undefined;
      describe(request, { ...outcome.detail, ...(user ? { user } : {}) });
      if (!outcome.ok) return sendAadError(ctx, request, reply, outcome.error);
      return reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache').type('application/json; charset=utf-8').send(outcome.body);
    },
  );
}
