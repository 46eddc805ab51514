// GET/POST /{tenant}/oauth2/v2.0/authorize: the sign-in and consent page of the code flow.
//
// GET validates what Entra validates before showing a page (tenant, app, redirect URI: errors
// shown on the page itself, since they cannot safely go back to the app) and what it reports to
// the app (response type, scope: errors sent to the redirect URI). POST checks the credentials
// and, on Accept, records the user's consent and redirects with a single-use code.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { describe } from '../http-route.js';
import { findApp } from '../tenant/accessors.js';
import type { EntraContext } from './context.js';
import { delegatedTarget } from './delegated.js';
import { Aad } from './errors.js';
import { GrantStore, type PendingAuthorization } from './grants.js';
import { fieldsOf, tenantFromPath } from './http-helpers.js';
import { signInForm, messagePage } from './pages.js';
import { errorPage, redirectWith, redirectWithError, type RedirectTarget } from './redirects.js';
import { parseScope } from './scopes.js';
import { signInUser } from './sign-in.js';

const PENDING_LIFETIME_MS = 60 * 60 * 1000;
const RESPONSE_MODES = ['query', 'fragment', 'form_post'] as const;

export async function authorizeRoutes(app: FastifyInstance, ctx: EntraContext): Promise<void> {
  const config = { endpoint: 'authorize' };

  app.get<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', { config }, async (request, reply) => {
    const q = fieldsOf(request.query);
    describe(request, { action: 'authorize (sign-in page)', ...(q.client_id ? { appId: q.client_id } : {}) });
    const tenant = tenantFromPath(ctx, request.params.tenant);
    if (!tenant.ok) return errorPage(ctx, reply, tenant.error);
    if (!q.client_id) return errorPage(ctx, reply, Aad.missingParameter('client_id'));
    const registration = findApp(tenant.value, q.client_id);
    if (!registration) return errorPage(ctx, reply, Aad.unknownApp(q.client_id, tenant.value.displayName));
    const redirectUri = q.redirect_uri ?? '';
    if (!registration.redirectUris.includes(redirectUri)) return errorPage(ctx, reply, Aad.redirectMismatch(redirectUri, registration.appId));
    const responseMode = (RESPONSE_MODES as readonly string[]).includes(q.response_mode ?? '') ? (q.response_mode as RedirectTarget['responseMode']) : 'query';
    const target: RedirectTarget = { redirectUri, responseMode, ...(q.state !== undefined ? { state: q.state } : {}) };
    if (q.response_type !== 'code') return redirectWithError(ctx, reply, target, Aad.unsupportedResponseType(q.response_type ?? ''));
    const scope = parseScope(q.scope, tenant.value.displayName);
    if (!scope.ok) return redirectWithError(ctx, reply, target, scope.error);
    const wanted = delegatedTarget(registration, scope.value);
    if (!wanted.ok) return redirectWithError(ctx, reply, target, wanted.error);
    const method = q.code_challenge === undefined ? undefined : (q.code_challenge_method ?? 'plain');
    if (method !== undefined && method !== 'S256' && method !== 'plain') return redirectWithError(ctx, reply, target, Aad.invalidCodeChallengeMethod());
    const pending: PendingAuthorization = {
      id: randomUUID(),
      clientId: registration.appId,
      scope: scope.value.raw,
      redirectUri,
      responseMode,
      ...(q.state !== undefined ? { state: q.state } : {}),
      ...(q.nonce ? { nonce: q.nonce } : {}),
      ...(q.code_challenge !== undefined && method ? { codeChallenge: q.code_challenge, codeChallengeMethod: method } : {}),
      clientInfo: q.client_info === '1',
      ...(q.login_hint ? { loginHint: q.login_hint } : {}),
      expiresAt: ctx.clock.now() + PENDING_LIFETIME_MS,
    };
    ctx.grants.authorizations.set(pending.id, pending);
    const permissions = wanted.value.scopes.map((s) => `${wanted.value.resource.displayName}: ${s}`);
    return reply.type('text/html; charset=utf-8').send(signInForm({ action: request.url.split('?')[0]!, hidden: { flow: pending.id }, appName: registration.displayName, permissions, ...(q.login_hint ? { login: q.login_hint } : {}) }));
  });

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/authorize', { config }, async (request, reply) => {
    const form = fieldsOf(request.body);
    const pending = ctx.grants.authorizations.get(form.flow ?? '');
    if (!pending || pending.expiresAt <= ctx.clock.now()) {
      return reply.code(400).type('text/html; charset=utf-8').send(messagePage('Sign in', 'This sign-in has expired. Go back to the application and start again.'));
    }
    const tenant = tenantFromPath(ctx, request.params.tenant);
    if (!tenant.ok) return errorPage(ctx, reply, tenant.error);
    const registration = findApp(tenant.value, pending.clientId);
    if (!registration) return errorPage(ctx, reply, Aad.unknownApp(pending.clientId, tenant.value.displayName));
    describe(request, { action: `authorize (${form.action ?? 'submit'})`, appId: registration.appId, ...(form.login ? { user: form.login } : {}) });
    const target: RedirectTarget = { redirectUri: pending.redirectUri, responseMode: pending.responseMode, ...(pending.state !== undefined ? { state: pending.state } : {}) };
    if (form.action === 'decline') {
      ctx.grants.authorizations.delete(pending.id);
      describe(request, { outcome: 'refused', code: 'AADSTS65004' });
      return redirectWithError(ctx, reply, target, Aad.userDeclined(), { error_subcode: 'cancel' });
    }
    const result = signInUser(ctx, tenant.value, form);
    if (!result.ok) {
      describe(request, { outcome: 'refused', code: `AADSTS${result.error.code}` });
      if (result.error.code === 53003) {
        ctx.grants.authorizations.delete(pending.id);
        return redirectWithError(ctx, reply, target, result.error);
      }
      const scope = parseScope(pending.scope, tenant.value.displayName);
      const permissions = scope.ok ? scope.value.permissions : [];
      return reply.type('text/html; charset=utf-8').send(signInForm({ action: request.url, hidden: { flow: pending.id }, appName: registration.displayName, permissions, ...(form.login ? { login: form.login } : {}), error: `AADSTS${result.error.code}: ${result.error.text}` }));
    }
    const { user, signIn } = result.value;
    if (!registration.adminConsent) {
      if (!tenant.value.organization.userConsentAllowed) {
        ctx.grants.authorizations.delete(pending.id);
        describe(request, { outcome: 'refused', code: 'AADSTS65001' });
        return redirectWithError(ctx, reply, target, Aad.consentMissing(registration.appId, registration.displayName));
      }
      ctx.grants.recordConsent(user.id, registration.appId);
    }
    ctx.grants.authorizations.delete(pending.id);
    const code = GrantStore.newToken(64);
    ctx.grants.codes.set(code, {
      clientId: pending.clientId,
      scope: pending.scope,
      redirectUri: pending.redirectUri,
      ...(pending.codeChallenge !== undefined ? { codeChallenge: pending.codeChallenge, codeChallengeMethod: pending.codeChallengeMethod ?? 'plain' } : {}),
      ...(pending.nonce ? { nonce: pending.nonce } : {}),
      expiresAt: ctx.clock.now() + ctx.settings.authCodeLifetimeSeconds * 1000,
      redeemed: false,
      ...signIn,
    });
    describe(request, { user: user.address });
    const clientInfo: Record<string, string> = pending.clientInfo ? { client_info: Buffer.from(JSON.stringify({ uid: user.id, utid: tenant.value.tenantId })).toString('base64url') } : {};
    return redirectWith(reply, target, { code, ...clientInfo, session_state: signIn.sessionId });
  });

  app.get<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/logout', { config }, async (request, reply) => {
    const target = fieldsOf(request.query).post_logout_redirect_uri;
    if (target) return reply.redirect(target, 302);
    return reply.type('text/html; charset=utf-8').send(messagePage('Signed out', 'You signed out of your account.'));
  });
}
