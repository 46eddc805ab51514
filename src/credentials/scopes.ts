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
