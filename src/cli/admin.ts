/**
 * `relay365 admin passwd|token`: who may use the admin console and API. `passwd` makes the
 * scrypt hash that goes into admin.users.<user>.passwordHash (the password is typed or piped,
 * never stored or printed); `token create|list|revoke` manages API tokens for automation,
 * kept in the store as hashes — a new token is printed once, here, and never again.
 */
import type { Command } from 'commander';
import { createApiToken } from '../admin/api-tokens.js';
import { hashPassword } from '../policy/passwords.js';
import { openStore } from '../queue/open.js';
import type { Store } from '../queue/store.js';
import { EXIT, fail, loadOrExit, type GlobalOptions } from './context.js';
import { ago, table } from './format.js';
import { readSecret } from './prompt.js';

const USER = /^[A-Za-z0-9._@-]{1,64}$/;
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function adminCommands(program: Command, global: () => GlobalOptions): void {
  const admin = program.command('admin').description('admin console users and API tokens');

  const withStore = async <T>(work: (store: Store) => Promise<T>): Promise<T> => {
    const { config } = loadOrExit(global());
    const store = await openStore(config);
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };

  admin
    .command('passwd <user>')
    .description('make the password hash for admin.users.<user>.passwordHash (the password is read from the terminal or stdin)')
    .action(async (user: string) => {
      if (!USER.test(user)) fail(`"${user}" is not a user name: 1 to 64 letters, digits and . _ @ -`, EXIT.usage);
      if (user === 'setup') fail('"setup" is reserved for the one-time setup token; choose another user name', EXIT.usage);
      const password = await readSecret(`Password for admin ${user}: `);
      if (password.length < 12) fail('the password is shorter than 12 characters; use a long one (a passphrase)', EXIT.dataError);
      const hash = await hashPassword(password);
      process.stdout.write(`admin:\n  users:\n    ${user}:\n      passwordHash: ${hash}\n`);
      process.stderr.write('Put this in the config (relay365 config check validates it) and restart the relay; the setup token is not offered once a user exists.\n');
    });

  const token = admin.command('token').description('API tokens for automation (Authorization: Bearer)');

  token
    .command('create <name>')
    .description('make a new API token; it is printed once and stored only as a hash')
    .action(async (name: string) => {
      if (!TOKEN_NAME.test(name)) fail(`"${name}" is not a token name: 1 to 64 letters, digits and . _ -`, EXIT.usage);
      const created = await withStore(async (store) => {
        if ((await store.apiTokens()).some((t) => t.name === name && t.revokedAt === null)) fail(`an API token named "${name}" exists; revoke it first or choose another name`, EXIT.dataError);
        return createApiToken(store, name);
      });
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(`API token "${name}" (id ${created.id}) created. It is shown only now: keep it in your automation's secret store.\nUse it as: Authorization: Bearer <token>\n`);
    });

  token
    .command('list')
    .description('API tokens: name, id, created, last used, revoked (never the token)')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const tokens = await withStore((store) => store.apiTokens());
      if (opts.json) return void process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
      if (!tokens.length) return void process.stdout.write('no API tokens\n');
      const rows = tokens.map((t) => [t.name, t.id, ago(t.createdAt), t.lastUsedAt ? ago(t.lastUsedAt) : 'never', t.revokedAt ? `revoked ${ago(t.revokedAt)}` : 'active']);
      process.stdout.write(`${table(['NAME', 'ID', 'CREATED', 'LAST USED', 'STATE'], rows)}\n`);
    });

  token
    .command('revoke <name-or-id>')
    .description('revoke an API token at once (every node refuses it from its next request)')
    .action(async (nameOrId: string) => {
      const revoked = await withStore((store) => store.revokeApiToken(nameOrId, Date.now()));
      if (!revoked) fail(`no active API token "${nameOrId}" (relay365 admin token list shows them)`, EXIT.dataError);
      process.stdout.write(`${nameOrId}: revoked\n`);
    });
}
