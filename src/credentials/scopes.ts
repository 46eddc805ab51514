/**
 * Which scope an app-only token is asked for. Client credentials take exactly one
 * `<resource>/.default` scope (anything else is AADSTS70011); the resource is Exchange Online
 * for SMTP AUTH and Microsoft Graph for the Graph API. `credentials.scopes` overrides both.
 */
import type { CredentialsConfig } from '../config/routes.js';

/** Exchange Online, for SMTP AUTH XOAUTH2 (application permission SMTP.SendAsApp). */
export const SMTP_SCOPE = 'https://outlook.office365.com/.default';
/** Microsoft Graph (application permission Mail.Send). */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** Graph's hosts in the national clouds: their tokens are for that host (US Government, DoD, China). */
const NATIONAL_GRAPH_HOSTS = new Set(['graph.microsoft.us', 'dod-graph.microsoft.us', 'microsoftgraph.chinacloudapi.cn']);

/** The scopes of an SMTP route's tokens: the configured ones, or Exchange Online's `.default`. */
export function smtpScopes(credentials: Pick<CredentialsConfig, 'scopes'>): string[] {
  return credentials.scopes?.length ? [...credentials.scopes] : [SMTP_SCOPE];
}

/**
 * The scopes of a Graph route's tokens: the configured ones, or `.default` of the Graph the route
 * talks to when that is a national cloud's, else graph.microsoft.com's (also for a stand-in such as
 * the sandbox, which answers as graph.microsoft.com).
 */
export function graphScopes(credentials: Pick<CredentialsConfig, 'scopes'>, endpoint: string): string[] {
  if (credentials.scopes?.length) return [...credentials.scopes];
  const host = new URL(endpoint).hostname.toLowerCase();
  return [NATIONAL_GRAPH_HOSTS.has(host) ? `https://${host}/.default` : GRAPH_SCOPE];
}

/** The resource a `.default` scope names, e.g. https://graph.microsoft.com. */
export function resourceOf(scope: string): string {
  return scope.replace(/\/\.default$/, '');
}

/** Delegated SMTP AUTH: the signed-in user's permission to send through Exchange Online. */
export const DELEGATED_SMTP_SCOPE = 'https://outlook.office.com/SMTP.Send';
/** Asks Entra ID for a refresh token, so one sign-in lasts (90 days of inactivity at most). */
export const OFFLINE_ACCESS = 'offline_access';

/**
 * The scopes of a delegated route's tokens: the configured ones, or SMTP.Send (smtp-oauth) /
 * Mail.Send of the route's Graph (graph), each with offline_access. One resource per request:
 * Entra ID refuses scopes of two resources together (AADSTS28000).
 */
export function delegatedScopes(transport: 'smtp-oauth' | 'graph', credentials: Pick<CredentialsConfig, 'scopes'>, graphEndpoint?: string): string[] {
  const scopes = credentials.scopes?.length ? [...credentials.scopes] : [transport === 'graph' ? `${resourceOf(graphScopes({}, graphEndpoint ?? 'https://graph.microsoft.com')[0] as string)}/Mail.Send` : DELEGATED_SMTP_SCOPE];
  return scopes.includes(OFFLINE_ACCESS) ? scopes : [...scopes, OFFLINE_ACCESS];
}
