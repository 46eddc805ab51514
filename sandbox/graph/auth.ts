// Who is calling: the bearer token of a Graph request, checked the way Graph checks it.
//
// Graph answers every token problem with 401 InvalidAuthenticationToken before it looks at the
// mailbox; the reason (expired, wrong audience, ...) is in the message and in the event log.
import type { FastifyRequest } from 'fastify';
import type { SandboxContext } from '../context.js';
import type { AccessTokenClaims } from '../entra/verify.js';
import { findMailbox } from '../tenant/accessors.js';
import { MICROSOFT_GRAPH } from '../tenant/resources.js';
import { done, fail, Graph, type GraphOutcome } from './errors.js';

export interface GraphCaller {
  /** 'app': an app-only token (`roles`); 'user': a delegated token (`scp`) for a signed-in user. */
  readonly kind: 'app' | 'user';
  readonly appId: string;
  /** Application permissions (app-only) or delegated scopes, as granted. */
  readonly permissions: readonly string[];
  /** The signed-in user's mailbox address (delegated only). */
  readonly user?: string;
  readonly claims: AccessTokenClaims;
}

/** The audiences Graph answers to: its URI and its application id. */
const GRAPH_AUDIENCES = [...MICROSOFT_GRAPH.identifierUris, MICROSOFT_GRAPH.appId];

export async function authenticate(ctx: SandboxContext, request: FastifyRequest): Promise<GraphOutcome<GraphCaller>> {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return fail(Graph.invalidToken('empty', ctx.urls.login));
  const checked = await ctx.entra.verifyAccessToken(match[1]!, { audience: GRAPH_AUDIENCES });
  if (!checked.ok) {
    request.sandboxEvent.detail = { ...request.sandboxEvent.detail, tokenProblem: checked.message };
    return fail(Graph.invalidToken(checked.reason, ctx.urls.login));
  }
  const claims = checked.claims;
  if (claims.idtyp === 'user' || claims.scp !== undefined) {
    const user = findMailbox(ctx.tenant.current, claims.upn ?? claims.oid);
    return done({ kind: 'user', appId: claims.appid, permissions: (claims.scp ?? '').split(' ').filter(Boolean), user: user?.address ?? claims.upn ?? claims.oid, claims });
  }
  return done({ kind: 'app', appId: claims.appid, permissions: claims.roles ?? [], claims });
}

/** Whether the caller was granted `permission` (case as Entra writes it, compared without case). */
export function granted(caller: GraphCaller, permission: string): boolean {
  return caller.permissions.some((p) => p.toLowerCase() === permission.toLowerCase());
}
