/**
 * The log as an admin meets it: `relay365 serve` on a terminal writes human lines (a real
 * pseudo-terminal, made by util-linux's `script`), in a pipe JSON lines (journald, Docker), and
 * log.format forces either. Secrets are censored in the human lines too (test/secrets/redaction.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

const ANSI = /\u001b\[[0-9;]*m/g;
const HUMAN_LINE = /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] (INFO|WARN|ERROR|DEBUG): /;

interface OnTerminal {
  script: ChildProcess;
  /** The relay's own pid (the shell script runs execs it), to stop it: script puts it in a session of its own. */
  pid: () => number;
  lines: () => string[];
}

/** `relay365 serve` with a pseudo-terminal as its stdout and stderr. */
function serveOnTerminal(dir: string): OnTerminal {
  const command = `echo "pid $$"; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} serve --config ${JSON.stringify(join(dir, 'relay365.yaml'))}`;
  const script = spawn('script', ['-qfec', command, '/dev/null'], { cwd: dir, env: { PATH: process.env.PATH, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  script.stdout?.on('data', (chunk: Buffer) => {
    recordForLeakScan('serve on a terminal', chunk.toString());
    text += chunk.toString();
  });
  const lines = () => text.replace(ANSI, '').split(/\r?\n/).filter(Boolean);
  const pid = () => Number(/^pid (\d+)$/m.exec(lines().join('\n'))?.[1] ?? 0);
  return { script, pid, lines };
}

let terminal: OnTerminal | undefined;
let relay: ChildRelay | undefined;
afterEach(() => {
  const pid = terminal?.pid();
  if (pid) process.kill(pid, 'SIGKILL');
  terminal?.script.kill('SIGKILL');
  relay?.child.kill('SIGKILL');
  terminal = relay = undefined;
});

const listening = (lines: string[]) => lines.some((l) => /INFO: listening \{.*"port":\d+/.test(l));

describe('relay365 serve logs', () => {
  it('on a terminal: human lines (time, level, message, fields); in a pipe: JSON lines', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { keep: { transport: 'capture' } } });
    terminal = serveOnTerminal(dir);
    await until(() => listening(terminal!.lines()), 15_000, () => `no human "listening" line:\n${terminal!.lines().join('\n')}`);
    const logLines = terminal.lines().filter((l) => !l.startsWith('pid '));
    expect(logLines.length).toBeGreaterThan(1);
    for (const line of logLines) expect(line).toMatch(HUMAN_LINE);
    expect(logLines.some((l) => l.startsWith('{'))).toBe(false);

    // The same config with stdout a pipe: JSON lines (spawnRelay parses every one).
    const piped = tempDir();
    writeConfig(piped, { routes: { keep: { transport: 'capture' } } });
    relay = await spawnRelay(piped);
    expect(relay.logs.find((l) => l.msg === 'listening')).toMatchObject({ level: 30, listener: 'default' });
  });

  it('log.format: json keeps JSON on a terminal, log.format: pretty writes human lines into a pipe', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { keep: { transport: 'capture' } }, log: { format: 'json' } });
    terminal = serveOnTerminal(dir);
    await until(() => terminal!.lines().some((l) => l.includes('"msg":"listening"')), 15_000, () => `no JSON "listening" line:\n${terminal!.lines().join('\n')}`);
    for (const line of terminal.lines().filter((l) => !l.startsWith('pid '))) expect(() => JSON.parse(line) as unknown).not.toThrow();

    const other = tempDir();
    writeConfig(other, { routes: { keep: { transport: 'capture' } }, log: { format: 'pretty' } });
    const child = spawn(process.execPath, [CLI, 'serve', '--config', join(other, 'relay365.yaml')], { cwd: other, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    relay = { child } as ChildRelay;
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      recordForLeakScan('serve with log.format: pretty', chunk.toString());
      text += chunk.toString();
    });
    await until(() => listening(text.split('\n')), 15_000, () => `no human "listening" line:\n${text}`);
    for (const line of text.split('\n').filter(Boolean)) expect(line).toMatch(HUMAN_LINE);
    expect(text).not.toMatch(ANSI); // no colours into a pipe
  });
});
