/**
 * What a diagnosis needs to know about the route it explains, so that every fix names the
 * admin's real values: the mailbox, the app, the tenant, the host ("Set-CASMailbox -Identity
 * relay@contoso.com -SmtpClientAuthenticationDisabled $false", not "<mailbox>").
 */
export interface RouteFacts {
  /** The route's name in relay365.yaml (fixes point at keys like routes.<route>.credentials). */
  route: string;
  transport: 'graph' | 'smtp-oauth' | 'smtp-basic' | 'direct-send' | 'connector';
  /** The sending / signing-in mailbox (graph, smtp-oauth, smtp-basic). */
  mailbox?: string;
  /** The tenant as configured (id or domain). */
  tenant?: string;
  /** The app registration's client id (app-only routes). */
  clientId?: string;
  /** The upstream host and port (SMTP routes) or the Graph endpoint. */
  endpoint?: string;
  /** The accepted domain of direct-send / connector routes. */
  domain?: string;
}
