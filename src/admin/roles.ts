/**
 * Who may do what on the console and the API: a console user's role comes from the config in
 * force (admin.users.<user>.role, read at every request so a reload or restart takes effect at
 * once); an API token's is the lower of its own and its owner's, and it has none once its owner
 * is gone.
 */
import type { AdminUsers, Role } from '../config/admin.js';

export type { Role } from '../config/admin.js';

/** The one-time setup token's user: an admin while admin.users is empty, nobody after. */
export const SETUP_USER = 'setup';
/** Owners of tokens made by `relay365 admin token create` without --owner: whoever could run it could read the store anyway. */
export const CLI_OWNER_PREFIX = 'cli:';

const RANK: Record<Role, number> = { 'read-only': 0, admin: 1 };

export const isRole = (value: string): value is Role => value in RANK;
export const lower = (a: Role, b: Role): Role => (RANK[a] <= RANK[b] ? a : b);
export const covers = (held: Role, needed: Role): boolean => RANK[held] >= RANK[needed];

/** The role of a console user in force now; null when there is no such user (removed, or setup once real users exist). */
export function roleOfUser(user: string, users: AdminUsers): Role | null {
  const configured = Object.hasOwn(users, user) ? users[user] : undefined;
  if (configured) return configured.role;
  return user === SETUP_USER && Object.keys(users).length === 0 ? 'admin' : null;
}

/** The role a token's owner has now: a CLI owner is an admin; a console user as configured; null once removed. */
export function roleOfOwner(owner: string, users: AdminUsers): Role | null {
  return owner.startsWith(CLI_OWNER_PREFIX) ? 'admin' : roleOfUser(owner, users);
}
