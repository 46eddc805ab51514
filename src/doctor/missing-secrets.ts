/**
 * A secret reference that does not resolve (env:M365_SECRET unset, a file: that is missing):
 * serve refuses to start on it, but setup and the doctor go on and say what to do — they are
 * the commands that explain how to create the secret. Only the key and the reference are named,
 * never a value.
 */
import type { UnresolvableRef } from '../config/secret-refs.js';

/** What to do so that the reference resolves: set the variable, write the file, or give the master key. */
export function missingSecretFix(ref: UnresolvableRef): string {
  const create = ref.path.endsWith('.clientSecret') ? "Create the client secret (App registrations > Certificates & secrets > New client secret) and put its Value (not the Secret ID) " : 'Put the secret ';
  if (ref.kind === 'env') {
    const name = ref.ref.slice('env:'.length);
    return `${create}into the environment variable ${name} of relay365 (a shell: export ${name}='…'; systemd: Environment=${name}=… in a drop-in, or EnvironmentFile=), then run relay365 doctor again.`;
  }
  if (ref.kind === 'file') return `${create}into the file ${ref.ref.slice('file:'.length)} (readable by relay365 only: chmod 600), then run relay365 doctor again.`;
  return 'Give relay365 the master key the value was encrypted with (RELAY365_MASTER_KEY, or the key file secrets.keyFile), or encrypt the secret again with relay365 secret encrypt.';
}

/** "routes.m365.credentials.clientSecret does not resolve: the environment variable M365_SECRET (env:M365_SECRET) is not set". */
export function missingSecretSaid(ref: UnresolvableRef): string {
  return `${ref.path} does not resolve: ${ref.problem}`;
}
