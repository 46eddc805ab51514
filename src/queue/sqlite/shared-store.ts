/**
 * The part of the SQLite store that is not about messages: routes with their mailboxes'
 * budgets and connections (RouteStore), and what the nodes using the store share
 * (ClusterStore): tokens, heartbeats, failed sign-ins. SqliteStore adds the queue and the
 * admin server's rows on the same database.
 */
import type Database from 'better-sqlite3';
import type {
  CachedAccessToken,
  ConnectionInUse,
  NodeInfo,
  NodeStatus,
  Reservation,
  RouteState,
  RouteStatus,
  SendLimits,
  SendUsage,
  SignInAdmission,
  SignInAttempt,
  StoredTokenCache,
} from '../store.js';
import type { ClusterStore } from '../store-cluster.js';
import type { RouteStore } from '../store-routes.js';
import { ConnectionSlots } from './connection-slots.js';
import { NodesAndTokens } from './nodes-and-tokens.js';
import { RoutesAndBudgets } from './routes-and-budgets.js';
import { SignInFailures } from './sign-in-failures.js';
import { TokenCaches } from './token-caches.js';

export abstract class SqliteSharedStore implements RouteStore, ClusterStore {
  private readonly routes: RoutesAndBudgets;
  private readonly connections: ConnectionSlots;
  private readonly signIns: SignInFailures;
  private readonly tokenCaches: TokenCaches;
  private readonly nodesAndTokens: NodesAndTokens;

  constructor(protected readonly db: Database.Database) {
    this.routes = new RoutesAndBudgets(db);
    this.connections = new ConnectionSlots(db);
    this.signIns = new SignInFailures(db);
    this.tokenCaches = new TokenCaches(db);
    this.nodesAndTokens = new NodesAndTokens(db);
  }

  /** Send logs, failed sign-ins, nodes and tokens older than `before`; slots of nodes gone. */
  protected purgeShared(before: number): void {
    this.routes.purge(before);
    this.signIns.purge(before);
    this.nodesAndTokens.purge(before);
    this.connections.purge(before);
  }

  async routeStatuses(): Promise<RouteStatus[]> {
    return this.routes.statuses();
  }

  async routeStatus(name: string): Promise<RouteStatus> {
    return this.routes.status(name);
  }

  async setRouteState(name: string, state: RouteState, now: number, details: { reason?: string | null; fix?: string | null; probeAt?: number | null } = {}): Promise<void> {
    this.routes.setState(name, state, now, details);
  }

  async noteRouteResult(name: string, ok: boolean, now: number, error: string | null = null): Promise<void> {
    this.routes.noteResult(name, ok, now, error);
  }

  async claimProbe(name: string, now: number, nextProbeAt: number): Promise<boolean> {
    return this.routes.claimProbe(name, now, nextProbeAt);
  }

  async reserveSend(key: string, recipients: number, now: number, limits: SendLimits): Promise<Reservation> {
    return this.routes.reserve(key, recipients, now, limits);
  }

  async settleSend(id: number, at: number): Promise<void> {
    this.routes.settle(id, at);
  }

  async sendUsage(key: string, now: number, limits: SendLimits): Promise<SendUsage> {
    return this.routes.usage(key, now, limits);
  }

  async takeConnection(key: string, node: string, limit: number, now: number, aliveSince: number): Promise<number | null> {
    return this.connections.take(key, node, limit, now, aliveSince);
  }

  async releaseConnection(key: string, slot: number, node: string): Promise<void> {
    this.connections.release(key, slot, node);
  }

  async releaseConnections(node: string): Promise<void> {
    this.connections.releaseNode(node);
  }

  async connectionsInUse(key: string, aliveSince: number): Promise<ConnectionInUse[]> {
    return this.connections.inUse(key, aliveSince);
  }

  async wantConnection(key: string, node: string, now: number): Promise<void> {
    this.connections.want(key, node, now);
  }

  async connectionWanted(key: string, node: string, since: number): Promise<number> {
    return this.connections.wanted(key, node, since);
  }

  async signInAttempt(attempt: SignInAttempt, now: number): Promise<SignInAdmission> {
    return this.signIns.attempt(attempt, now);
  }

  async signInFailed(attempt: SignInAttempt, now: number): Promise<number | null> {
    return this.signIns.failed(attempt, now);
  }

  async signInSucceeded(attempt: SignInAttempt, now: number): Promise<void> {
    this.signIns.succeeded(attempt, now);
  }

  async loadTokenCache(route: string): Promise<StoredTokenCache | null> {
    return this.tokenCaches.load(route);
  }

  async saveTokenCache(route: string, data: string, expectedVersion: number | null, now: number): Promise<number | null> {
    return this.tokenCaches.save(route, data, expectedVersion, now);
  }

  async deleteTokenCache(route: string): Promise<void> {
    this.tokenCaches.remove(route);
  }

  async heartbeat(node: NodeInfo, now: number): Promise<void> {
    this.nodesAndTokens.heartbeat(node, now);
  }

  async nodeStopped(name: string, now: number): Promise<void> {
    this.nodesAndTokens.stopped(name, now);
  }

  async nodes(): Promise<NodeStatus[]> {
    return this.nodesAndTokens.nodes();
  }

  async accessToken(key: string): Promise<CachedAccessToken | null> {
    return this.nodesAndTokens.token(key);
  }

  refreshAccessToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken> {
    return this.nodesAndTokens.refreshToken(key, refresh);
  }

  async forgetAccessToken(key: string, value: string): Promise<void> {
    this.nodesAndTokens.forgetToken(key, value);
  }
}
