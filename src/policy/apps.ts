/**
 * Which application is talking: the one whose AUTH credentials it presented, or the one
 * whose networks its address is in. Networks are matched with node's BlockList (IPv4,
 * IPv6, IPv4-mapped IPv6 alike). Without any app in the config, this host is the only
 * sender: an implicit app "local" with 127.0.0.1 and ::1.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { AppConfig, AppsConfig } from '../config/schema.js';
import { verifyPassword } from './passwords.js';

export interface App {
  name: string;
  config: AppConfig;
}

export const LOCAL_APP = 'local';

const localApp: AppConfig = {
  apiTokens: [],
  networks: ['127.0.0.1', '::1'],
  senders: [],
  from: [],
  recipients: { allowDomains: [], denyDomains: [] },
  limits: {},
  routes: [],
  dsn: 'sender',
};

export class AppDirectory {
  private readonly apps: App[];
  private readonly networks = new Map<string, BlockList>();
  private readonly all = new BlockList();

  constructor(config: AppsConfig) {
    const entries = Object.entries(config);
    this.apps = entries.length ? entries.map(([name, app]) => ({ name, config: app })) : [{ name: LOCAL_APP, config: localApp }];
    for (const app of this.apps) {
      const list = new BlockList();
      for (const entry of app.config.networks) {
        const [address, bits] = entry.split('/') as [string, string | undefined];
        const family = isIPv6(address) ? 'ipv6' : 'ipv4';
        const prefix = bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits);
        list.addSubnet(address, prefix, family);
        this.all.addSubnet(address, prefix, family);
      }
      this.networks.set(app.name, list);
    }
  }

  get(name: string): App | undefined {
    return this.apps.find((a) => a.name === name);
  }

  /** The app whose networks hold this address (the first one listed, if several do). */
  byAddress(address: string): App | undefined {
    const family = isIPv6(address) ? 'ipv6' : 'ipv4';
    return this.apps.find((app) => this.networks.get(app.name)?.check(address, family));
  }

  /** Is the address in any app's networks (for restricted listeners)? */
  isKnownAddress(address: string): boolean {
    return this.all.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  /**
   * The app these AUTH credentials belong to, or undefined. An unknown user name costs the same
   * scrypt work as a known one (verifyPassword's dummy hash), so timing does not tell them apart.
   */
  async authenticate(user: string, password: string): Promise<App | undefined> {
    const app = this.appOfUser(user);
    return (await verifyPassword(password, app?.config.auth?.passwordHash)) ? app : undefined;
  }

  /** The app whose AUTH user this is (exactly as configured), if any. */
  appOfUser(user: string): App | undefined {
    return this.apps.find((a) => a.config.auth && (a.config.auth.user ?? a.name) === user);
  }

  list(): readonly App[] {
    return this.apps;
  }

  get usesAuth(): boolean {
    return this.apps.some((a) => a.config.auth);
  }
}
