/**
 * `relay365 sandbox`: starts the Microsoft 365 stand-in. It lives outside src/ and the relay
 * never depends on it; the CLI loads it only when asked to run it.
 */
export async function runSandbox(args: string[]): Promise<void> {
  const { runSandboxCli } = await import('../../sandbox/cli.js');
  const code = await runSandboxCli(args);
  if (code !== 0) process.exitCode = code;
}
