// The device code flow's two pages: POST /{tenant}/oauth2/v2.0/devicecode, where the app gets a
// code to show, and /devicelogin, where the user enters it, signs in and approves or declines.
//
// The polling half is grant-device-code.ts. Codes last 15 minutes and the announced polling
// interval is 5 s, both configurable so tests need not wait.
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { describe } from '../http-route.js';
import { findApp } from '../tenant/accessors.js';
import type { EntraContext } from './context.js';
import { delegatedTarget } from './delegated.js';
import { Aad } from './errors.js';
import { GrantStore, type DeviceCode } from './grants.js';
import { fieldsOf, sendAadError, tenantFromPath, transientErrorBody } from './http-helpers.js';
import { messagePage, signInForm } from './pages.js';
import { parseScope } from './scopes.js';
import { signInUser } from './sign-in.js';

const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export async function deviceFlowRoutes(app: FastifyInstance, ctx: EntraContext, deviceLoginUrl: (origin: string) => string): Promise<void> {
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/devicecode', { config: { endpoint: 'devicecode', faultBody: () => transientErrorBody(ctx) } }, async (request, reply) => {
    const params = fieldsOf(request.body);
    describe(request, { action: 'devicecode', ...(params.client_id ? { appId: params.client_id } : {}) });
    const tenant = tenantFromPath(ctx, request.params.tenant);
    if (!tenant.ok) return sendAadError(ctx, request, reply, tenant.error);
    if (!params.client_id) return sendAadError(ctx, request, reply, Aad.missingParameter('client_id'));
    const registration = findApp(tenant.value, params.client_id);
    if (!registration) return sendAadError(ctx, request, reply, Aad.unknownApp(params.client_id, tenant.value.displayName));
    const scope = parseScope(params.scope, tenant.value.displayName);
    if (!scope.ok) return sendAadError(ctx, request, reply, scope.error);
    const wanted = delegatedTarget(registration, scope.value);
    if (!wanted.ok) return sendAadError(ctx, request, reply, wanted.error);
    const { deviceCodeLifetimeSeconds: expiresIn, deviceCodeIntervalSeconds: interval } = ctx.settings;
    const dc: DeviceCode = {
      deviceCode: GrantStore.newToken(64),
      userCode: newUserCode(),
      clientId: registration.appId,
      scope: scope.value.raw,
      expiresAt: ctx.clock.now() + expiresIn * 1000,
      status: 'pending',
    };
    ctx.grants.deviceCodes.set(dc.deviceCode, dc);
    const verificationUri = deviceLoginUrl(`https://${request.host}`);
    return reply.type('application/json; charset=utf-8').send({
      user_code: dc.userCode,
      device_code: dc.deviceCode,
      verification_uri: verificationUri,
      expires_in: expiresIn,
      interval,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${dc.userCode} to authenticate.`,
    });
  });

  const config = { endpoint: 'devicelogin' };
  app.get('/devicelogin', { config }, async (request, reply) => {
    const q = fieldsOf(request.query);
    return reply.type('text/html; charset=utf-8').send(signInForm({ action: '/devicelogin', hidden: {}, appName: 'An application on another device', permissions: [], askCode: true, ...(q.otc ? { code: q.otc } : {}) }));
  });

  app.post('/devicelogin', { config }, async (request, reply) => {
    const form = fieldsOf(request.body);
    const html = (status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
    const dc = findByUserCode(ctx, form.code ?? '');
    describe(request, { action: `devicelogin (${form.action ?? 'submit'})`, ...(form.login ? { user: form.login } : {}) });
    const again = (error: string) =>
      html(200, signInForm({ action: '/devicelogin', hidden: {}, appName: 'An application on another device', permissions: [], askCode: true, ...(form.code ? { code: form.code } : {}), ...(form.login ? { login: form.login } : {}), error }));
    if (!dc || dc.status !== 'pending' || dc.expiresAt <= ctx.clock.now()) {
      describe(request, { outcome: 'refused', code: 'AADSTS70018' });
      return again("That code didn't work. Check the code and try again.");
    }
    const tenant = ctx.tenants.current;
    const registration = findApp(tenant, dc.clientId);
    describe(request, { appId: dc.clientId });
    if (form.action === 'decline') {
      dc.status = 'declined';
      describe(request, { outcome: 'refused', code: 'AADSTS65004' });
      return html(200, messagePage('Sign in declined', `You declined to sign in to ${registration?.displayName ?? dc.clientId} on your device.`));
    }
    const result = signInUser(ctx, tenant, form);
    if (!result.ok) {
      describe(request, { outcome: 'refused', code: `AADSTS${result.error.code}` });
      return again(`AADSTS${result.error.code}: ${result.error.text}`);
    }
    const { user, signIn } = result.value;
    if (registration && !registration.adminConsent) {
      if (!tenant.organization.userConsentAllowed) {
        dc.status = 'declined';
        describe(request, { outcome: 'refused', code: 'AADSTS65001' });
        return html(200, messagePage('Need admin approval', `${registration.displayName} needs permission to access resources in your organization that only an admin can grant.`));
      }
      ctx.grants.recordConsent(user.id, registration.appId);
    }
    dc.status = 'approved';
    dc.signIn = signIn;
    describe(request, { user: user.address });
    return html(200, messagePage(registration?.displayName ?? 'Signed in', `You have signed in to the ${registration?.displayName ?? ''} application on your device. You may now close this window.`));
  });
}

function findByUserCode(ctx: EntraContext, typed: string): DeviceCode | undefined {
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  return [...ctx.grants.deviceCodes.values()].find((dc) => dc.userCode === code);
}

function newUserCode(): string {
  return Array.from({ length: 9 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join('');
}
