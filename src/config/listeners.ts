/**
 * Listener settings that contradict each other or the apps: each would start a listener that
 * promises what it cannot keep (plaintext AUTH on a network, AUTH that nobody can ever use,
 * a restricted listener that turns everyone away), so start-up stops and says which key to
 * change. And what "on loopback" means for the defaults that depend on it.
 */
import { isIPv4 } from 'node:net';
import type { Config } from './schema.js';

const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/** A listener only this machine can reach (127.0.0.0/8, ::1, localhost). */
export const isLoopbackHost = (host: string): boolean => LOOPBACK_HOSTS.includes(host) || (isIPv4(host) && host.startsWith('127.'));

export function listenerProblems(config: Config): string[] {
  const problems: string[] = [];
  const apps = Object.values(config.apps);
  // Without apps, this host (127.0.0.1, ::1) is the implicit app, recognised by its address.
  const someAppByAddress = apps.length === 0 || apps.some((app) => app.networks.length > 0);
  for (const [name, listener] of Object.entries(config.listeners)) {
    const key = `listeners.${name}`;
    if (listener.trustedPlaintext && !isLoopbackHost(listener.host)) {
      problems.push(`${key}.trustedPlaintext: only for a listener on 127.0.0.1 or ::1 (this one is on ${listener.host}): passwords would cross the network unencrypted`);
    }
    if (listener.trustedPlaintext && listener.tls.mode === 'implicit') {
      problems.push(`${key}.trustedPlaintext: nothing is plaintext on a listener with tls.mode: implicit; remove trustedPlaintext`);
    }
    if (listener.restricted && !someAppByAddress) {
      problems.push(
        `${key}.restricted: this listener on ${listener.host} takes connections only from the apps' networks (restricted, the default off loopback), but no app lists networks, so every connection would be refused; ` +
          `list the apps' networks (apps.<app>.networks), or set ${key}.restricted: false for apps that AUTH from anywhere`,
      );
    }
    if (listener.tls.mode === 'none' && !listener.trustedPlaintext && !someAppByAddress) {
      problems.push(
        `${key}.tls.mode: none refuses AUTH (passwords would travel unencrypted), and no app has networks to send without AUTH, so nobody could send through this listener; ` +
          `set ${key}.tls.mode: starttls, or ${key}.trustedPlaintext: true (on 127.0.0.1 or ::1 only), or give an app networks`,
      );
    }
  }
  return problems;
}
