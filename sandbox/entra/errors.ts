// Entra ID's errors: the AADSTS codes, their texts, and the JSON shape they travel in.
//
// The texts of the M365-FACTS.md table are reproduced word for word; so is the shape:
// `{error, error_description: "AADSTSnnnn: text\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …",
// error_codes, timestamp, trace_id, correlation_id, error_uri}`, HTTP 400, or 401 for invalid_client.
import { randomUUID } from 'node:crypto';

export interface AadError {
  /** OAuth error: invalid_client, invalid_grant, ... */
  readonly error: string;
  /** The AADSTS number. */
  readonly code: number;
  /** The text after "AADSTSnnnn: ". */
  readonly text: string;
  readonly status: number;
}

export interface AadErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

const fail = (error: string, code: number, text: string): AadError => ({ error, code, text, status: error === 'invalid_client' ? 401 : 400 });

/** Microsoft's timestamp format in errors: `2016-01-09 02:02:12Z`. */
export function aadTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Microsoft's duration format in AADSTS700082: `90.00:00:00` (days.hours:minutes:seconds). */
function aadDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(s / 86400)}.${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

export const Aad = {
  // The rows of the M365-FACTS.md table.
  invalidSecret: (appId: string) =>
    fail('invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${appId}'.`),
  expiredSecret: (appId: string) =>
    fail('invalid_client', 7000222, `The provided client secret keys for app '${appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`),
  unknownApp: (appId: string, tenantName: string) =>
    fail('unauthorized_client', 700016, `Application with identifier '${appId}' was not found in the directory '${tenantName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`),
  unknownTenant: (tenant: string) =>
    fail('invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`),
  consentMissing: (appId: string, appName: string) =>
    fail('invalid_grant', 65001, `The user or administrator has not consented to use the application with ID '${appId}' named '${appName}'. Send an interactive authorization request for this user and resource.`),
  invalidScope: (scope: string) => fail('invalid_scope', 70011, `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`),
  noClientCredential: () => fail('invalid_client', 7000218, `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`),
  refreshTokenInactive: (issuedAt: Date, inactiveSeconds: number) =>
    fail('invalid_grant', 700082, `The refresh token has expired due to inactivity. The token was issued on ${issuedAt.toISOString()} and was inactive for ${aadDuration(inactiveSeconds)}.`),
  grantRevoked: (issuedAt: Date, validFrom: Date) =>
    fail('invalid_grant', 50173, `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${issuedAt.toISOString()}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${validFrom.toISOString()}'.`),
  blockedByConditionalAccess: () => fail('access_denied', 53003, 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.'),
  mfaRequired: (resource: string) =>
    fail('invalid_grant', 50076, `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}'.`),
  pkceMismatch: () => fail('invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),

  // Errors the table does not list, which the same flows produce on the way.
  missingParameter: (name: string) => fail('invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`),
  unsupportedGrantType: (grant: string) => fail('unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`),
  unknownResource: (resource: string, tenantName: string) =>
    fail('invalid_resource', 500011, `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`),
  multipleResources: (scope: string) => fail('invalid_scope', 28000, `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`),
  malformedGrant: () => fail('invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.'),
  codeExpired: () => fail('invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.'),
  codeRedeemed: () => fail('invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.'),
  refreshTokenRedeemed: () => fail('invalid_grant', 70000, 'Provided grant is invalid or malformed. The refresh token was already used to obtain new tokens: use the refresh token returned with them.'),
  grantForOtherClient: () => fail('invalid_grant', 70000, 'Provided grant is invalid or malformed. It was issued to a different client.'),
  redirectMismatch: (uri: string, appId: string) =>
    fail('invalid_request', 50011, `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${appId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`),
  userNotFound: (user: string, tenantName: string) =>
    fail('invalid_grant', 50034, `The user account ${user} does not exist in the '${tenantName}' directory. To sign into this application, the account must be added to the directory.`),
  userDisabled: () => fail('invalid_grant', 50057, 'The user account is disabled.'),
  wrongPassword: () => fail('invalid_grant', 50126, 'Error validating credentials due to invalid username or password.'),
  mfaNotPerformed: () => fail('interaction_required', 50074, 'Strong Authentication is required.'),
  unsupportedResponseType: (type: string) => fail('unsupported_response_type', 70005, `response_type '${type}' is not enabled for the application.`),
  invalidCodeChallengeMethod: () => fail('invalid_request', 501471, "Invalid code_challenge_method: use 'S256' or 'plain'."),
  userDeclined: () => fail('access_denied', 65004, 'User declined to consent to access the app.'),
  // Certificate credentials (client_assertion).
  assertionKeyNotFound: (thumbprint: string, appId: string) =>
    fail('invalid_client', 700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${appId}'.]`),
  assertionBadSignature: (thumbprint: string) =>
    fail('invalid_client', 700027, `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint}']`),
  assertionMalformed: () => fail('invalid_client', 50027, 'JWT token is invalid or malformed.'),
  assertionTimeRange: (now: Date) => fail('invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${now.toISOString()}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`),
  assertionAudience: () => fail('invalid_client', 700023, 'Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .'),
  assertionIssuer: () => fail('invalid_client', 700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."),
  // Device code polling (RFC 8628 error names).
  authorizationPending: () => fail('authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'),
  authorizationDeclined: () => fail('authorization_declined', 65004, 'User declined to consent to access the app.'),
  badVerificationCode: () => fail('bad_verification_code', 70018, 'Invalid verification code due to User typing in wrong user code for device code flow. Authorization is not approved.'),
  deviceCodeExpired: () => fail('expired_token', 70019, 'Verification code expired. Have the user retry the sign-in.'),
  // What an injected outage answers when the fault gives no body.
  transient: () => fail('temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.'),
} as const;

/** The JSON body Entra sends with an error. `correlationId` echoes the client's `client-request-id`. */
export function aadErrorBody(err: AadError, now: Date, correlationId: string = randomUUID()): AadErrorBody {
  const traceId = randomUUID();
  const timestamp = aadTimestamp(now);
  return {
    error: err.error,
    error_description: `AADSTS${err.code}: ${err.text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [err.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${err.code}`,
  };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: AadError };
export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const refuse = (error: AadError): { ok: false; error: AadError } => ({ ok: false, error });
