/**
 * `relay365 admin passwd|token`: who may use the admin console and API. `passwd` makes the
 * scrypt hash that goes into admin.users.<user>.passwordHash (the password is typed or piped,
 * never stored or printed); `token create|list|revoke` manages API tokens for automation,
 * kept in the store as hashes — a new token is printed once, here, and never again. A token
 * made here belongs to `cli:<os user>` (an admin: whoever runs this can read the store) unless
 * --owner names a console user, whose removal from admin.users then ends it.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createApiToken, describeToken, isRefusal } from '../admin/api-tokens.js';
import { CLI_OWNER_PREFIX, isRole } from '../admin/roles.js';
import { duration } from '../config/fields.js';
import { hashPassword } from '../policy/passwords.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../queue/store.js';
import { EXIT, fail, loadOrExit, withStore as withConfigStore, type GlobalOptions } from './context.js';
import { ago, table } from './format.js';
import { readSecret } from './prompt.js';

const USER = /^[A-Za-z0-9._@-]{1,64}$/;
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function adminCommands(program: Command, global: () => GlobalOptions): void {
  const admin = program.command('admin').description('admin console users and API tokens');

  // A token made before the first start is kept in the store it creates; listing or revoking creates none.
  const withStore = <T>(work: (store: Store, config: Config) => Promise<T>, create = true): Promise<T> => {
    const loaded = loadOrExit(global());
    return withConfigStore(loaded, { create }, (store) => work(store, loaded.config));
  };

  admin
    .command('passwd <user>')
    .description('make the password hash for admin.users.<user>.passwordHash (the password is read from the terminal or stdin)')
    .option('--role <role>', 'admin (everything) or read-only (the queue, routes and messages\' metadata; no actions, tokens or bodies)', 'admin')
    .action(async (user: string, opts: { role: string }) => {
      if (!isRole(opts.role)) fail(`--role: expected admin or read-only, got "${opts.role}"`, EXIT.usage);
      if (!USER.test(user)) fail(`"${user}" is not a user name: 1 to 64 letters, digits and . _ @ -`, EXIT.usage);
      if (user === 'setup') fail('"setup" is reserved for the one-time setup token; choose another user name', EXIT.usage);
      const password = await readSecret(`Password for admin ${user}: `);
      if (password.length < 12) fail('the password is shorter than 12 characters; use a long one (a passphrase)', EXIT.dataError);
      const hash = await hashPassword(password);
      process.stdout.write(`admin:\n  users:\n    ${user}:\n      passwordHash: ${hash}\n      role: ${opts.role}\n`);
      process.stderr.write('Put this in the config (relay365 config check validates it) and reload the relay (systemctl reload relay365, or SIGHUP); the setup token is not offered once a user exists.\n');
    });

  const token = admin.command('token').description('API tokens for automation (Authorization: Bearer)');

  token
    .command('create <name>')
    .description('make a new API token; it is printed once and stored only as a hash')
    .option('--role <role>', 'admin or read-only (default: the owner\'s role)')
    .option('--expires <duration>', 'how long it lasts, e.g. 30d or 12h (default admin.tokenLifetime, at most admin.tokenMaxLifetime)')
    .option('--owner <user>', 'the console user it belongs to (admin.users); it stops working when that user is removed (default: cli:<your OS user>)')
    .action(async (name: string, opts: { role?: string; expires?: string; owner?: string }) => {
      if (!TOKEN_NAME.test(name)) fail(`"${name}" is not a token name: 1 to 64 letters, digits and . _ -`, EXIT.usage);
      let expiresIn: number | undefined;
      if (opts.expires !== undefined) {
        const parsed = duration().safeParse(opts.expires);
        if (!parsed.success) fail(`--expires: ${parsed.error.issues[0]?.message ?? 'expected a duration such as 30d'}`, EXIT.usage);
        expiresIn = parsed.data;
      }
      const owner = opts.owner ?? `${CLI_OWNER_PREFIX}${osUser()}`;
      if (opts.owner?.startsWith(CLI_OWNER_PREFIX)) fail(`--owner names a console user (admin.users); leave it out for a token of ${CLI_OWNER_PREFIX}<your OS user>`, EXIT.usage);
      const created = await withStore((store, config) =>
        createApiToken(store, config.admin, { name, owner, ...(opts.role ? { role: opts.role } : {}), ...(expiresIn !== undefined ? { expiresIn } : {}) }),
      );
      if (isRefusal(created)) fail(created.detail, created.refused === 'exists' ? EXIT.dataError : EXIT.usage);
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(
        `API token "${name}" (id ${created.id}, ${created.role}, owner ${created.owner}) created; it expires ${new Date(created.expiresAt).toISOString()}. It is shown only now: keep it in your automation's secret store.\nUse it as: Authorization: Bearer <token>\n`,
      );
    });

  token
    .command('list')
    .description('API tokens: name, id, owner, role, created, expiry, last use and state (never the token)')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const now = Date.now();
      const tokens = await withStore(async (store, config) => (await store.apiTokens()).map((t) => describeToken(t, config.admin, now)), false);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
      if (!tokens.length) return void process.stdout.write('no API tokens\n');
      const rows = tokens.map((t) => [t.name, t.id, t.owner, t.role, ago(t.createdAt, now), ago(t.expiresAt, now), t.lastUsedAt ? ago(t.lastUsedAt, now) : 'never', t.revokedAt ? `revoked ${ago(t.revokedAt, now)}` : t.state]);
      process.stdout.write(`${table(['NAME', 'ID', 'OWNER', 'ROLE', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'], rows)}\n`);
    });

  token
    .command('revoke <name-or-id>')
    .description('revoke an API token at once (every node refuses it from its next request)')
    .action(async (nameOrId: string) => {
      const revoked = await withStore((store) => store.revokeApiToken(nameOrId, Date.now()), false);
      if (!revoked) fail(`no active API token "${nameOrId}" (relay365 admin token list shows them)`, EXIT.dataError);
      process.stdout.write(`${nameOrId}: revoked\n`);
    });
}

/** The OS user running the CLI, as a token's owner says (cli:<user>). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}
