// relay365 sandbox: run the Microsoft 365 sandbox until interrupted.
//
// Usage: relay365 sandbox [--tenant FILE] [--data DIR] [--host ADDRESS] [--https-port PORT] [--submission-port PORT] [--mx-port PORT] [--dns-port PORT]
//   --tenant FILE      tenant file (YAML or JSON); default: the bundled contoso.example demo tenant
//   --data DIR         where the CA, keys, grants and mail are kept; default ./data/sandbox
//   --host ADDRESS     address to listen on; default 127.0.0.1
//   --https-port PORT  HTTPS port for Entra ID, Graph and the sandbox page; default 9443
//   --submission-port PORT  SMTP client submission (smtp.office365.com:587); default 5587
//   --mx-port PORT     SMTP MX (<tenant>.mail.protection.outlook.com:25); default 5025
//   --dns-port PORT    DNS (UDP) with the tenant's MX and SPF records, for relay365 doctor; default 5053
// It prints the URLs and the CA certificate's path, and stops on Ctrl-C (SIGINT) or SIGTERM.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR, DEFAULT_HTTPS_PORT } from './options.js';
import { DEFAULT_MX_PORT, DEFAULT_SUBMISSION_PORT } from './smtp/settings.js';
import { startSandbox } from './index.js';
import { DEFAULT_DNS_PORT } from './dns/service.js';

const USAGE = `Usage: relay365 sandbox [--tenant FILE] [--data DIR] [--host ADDRESS] [--https-port PORT] [--submission-port PORT] [--mx-port PORT] [--dns-port PORT]
  --tenant FILE      tenant file (YAML or JSON); default: the bundled contoso.example demo tenant
  --data DIR         where the CA, keys, grants and mail are kept; default ${DEFAULT_DATA_DIR}
  --host ADDRESS     address to listen on; default 127.0.0.1
  --https-port PORT  HTTPS port for Entra ID, Graph and the sandbox page; default ${DEFAULT_HTTPS_PORT}
  --submission-port PORT  SMTP client submission (smtp.office365.com:587); default ${DEFAULT_SUBMISSION_PORT}
  --mx-port PORT     SMTP MX (<tenant>.mail.protection.outlook.com:25); default ${DEFAULT_MX_PORT}
  --dns-port PORT    DNS (UDP) with the tenant's MX and SPF records, for relay365 doctor; default ${DEFAULT_DNS_PORT}`;

/** Runs the sandbox; resolves with the exit code once it has stopped (after SIGINT/SIGTERM). */
export async function runSandboxCli(argv: string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tenant: { type: 'string' },
        data: { type: 'string' },
        host: { type: 'string' },
        'https-port': { type: 'string' },
        'submission-port': { type: 'string' },
        'mx-port': { type: 'string' },
        'dns-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    out(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const port = values['https-port'] === undefined ? undefined : Number(values['https-port']);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    out(`--https-port must be a port number, got ${values['https-port']}\n${USAGE}`);
    return 2;
  }
  const smtpPorts: { submissionPort?: number; mxPort?: number } = {};
  for (const [flag, key] of [['submission-port', 'submissionPort'], ['mx-port', 'mxPort']] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    const n = Number(value);
    if (!(Number.isInteger(n) && n >= 0 && n < 65536)) {
      out(`--${flag} must be a port number, got ${value}\n${USAGE}`);
      return 2;
    }
    smtpPorts[key] = n;
  }
  const dnsPort = values['dns-port'] === undefined ? undefined : Number(values['dns-port']);
  if (dnsPort !== undefined && !(Number.isInteger(dnsPort) && dnsPort >= 0 && dnsPort < 65536)) {
    out(`--dns-port must be a port number, got ${values['dns-port']}\n${USAGE}`);
    return 2;
  }
  let sandbox;
  try {
    sandbox = await startSandbox({
      ...(values.tenant ? { tenant: values.tenant } : {}),
      ...(values.data ? { dataDir: values.data } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(port !== undefined ? { httpsPort: port } : {}),
      smtp: smtpPorts,
      ...(dnsPort !== undefined ? { dns: { port: dnsPort } } : {}),
      log: out,
    });
  } catch (e) {
    out(`sandbox did not start: ${(e as Error).message}`);
    return 1;
  }
  const { urls } = sandbox;
  out(`  Entra ID authority   ${urls.authority()}  (msal-node: knownAuthorities ['${urls.knownAuthority}'])`);
  out(`  Graph                ${urls.graph}`);
  out(`  Device login         ${urls.deviceLogin}`);
  out(`  Sandbox API          ${urls.api}`);
  out(`  SMTP submission      ${sandbox.ports.submission ?? 'not running'}`);
  out(`  SMTP MX              ${sandbox.ports.mx ?? 'not running'}`);
  out(`  DNS (udp)            ${sandbox.ports.dns ?? 'not running'}  (relay365 doctor: doctor.dnsServers)`);
  out(`  Trust the CA with    NODE_EXTRA_CA_CERTS=${sandbox.caPath}  (or relay365's extra CA setting)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  out('sandbox: stopping');
  await sandbox.stop();
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await runSandboxCli(process.argv.slice(2));
}
