/**
 * `relay365 sandbox`: starts the Microsoft 365 stand-in. It lives outside src/ and the relay
 * never depends on it; the CLI loads it only when asked to run it.
 */
const SANDBOX_CLI = '../../sandbox/cli.js';

export async function runSandbox(args: string[]): Promise<void> {
  const { runSandboxCli } = (await import(SANDBOX_CLI)) as { runSandboxCli: (argv: string[]) => Promise<void> };
  await runSandboxCli(args);
}
