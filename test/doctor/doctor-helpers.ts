// The doctor's tests: routes pointed at the sandbox (its Entra ID, its SMTP endpoints, its DNS
// server for doctor.dnsServers), the doctor run in this process on a config written to a temporary
// folder, and the built CLI run as an admin runs it.
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { CheckId, CheckResult, DoctorReport } from '../../src/doctor/check.js';
import { runDoctor } from '../../src/doctor/runner.js';
import { runCli, tempDir, writeConfig, type CliResult } from '../helpers/relay.js';
import { DEMO, type TestSandbox } from '../helpers/sandbox.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

export const SECRET_ENV = { M365_SECRET: DEMO.appOnly.secret };
/** This relay's public IP in the tests: inside the demo tenant's SPF range 203.0.113.0/24. */
export const PUBLIC_IP = '203.0.113.25';

export function doctorSettings(t: TestSandbox) {
  return { dnsServers: [`127.0.0.1:${t.sandbox.ports.dns}`], publicIps: [PUBLIC_IP], timeout: '2s' };
}

/** An smtp-oauth route of relay@ to the sandbox's submission endpoint, by name (resolved by the sandbox DNS). */
export function oauthRoute(t: TestSandbox, extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) {
  return {
    transport: 'smtp-oauth',
    mailbox: DEMO.relay.address,
    credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: 'env:M365_SECRET', secretExpires: '2099-12-31', authorityHost: t.sandbox.urls.login, ...credentials },
    host: 'localhost',
    port: t.sandbox.ports.submission,
    ca: [t.sandbox.caPath],
    sender: { allowed: ['noreply@contoso.example'] },
    ...extra,
  };
}

export function directSendRoute(t: TestSandbox, extra: Record<string, unknown> = {}) {
  return { transport: 'direct-send', domain: DEMO.domain, host: 'localhost', port: t.sandbox.ports.mx, ca: [t.sandbox.caPath], ...extra };
}

export function writeDoctorConfig(t: TestSandbox, routes: Record<string, unknown>, doctor: Record<string, unknown> = {}): string {
  const dir = tempDir('relay365-doctor-');
  writeConfig(dir, { routes, routing: { default: Object.keys(routes)[0] }, doctor: { ...doctorSettings(t), ...doctor } });
  return dir;
}

export async function doctorOn(t: TestSandbox, routes: Record<string, unknown>, options: { doctor?: Record<string, unknown>; sendTest?: string; env?: NodeJS.ProcessEnv } = {}): Promise<DoctorReport> {
  const dir = writeDoctorConfig(t, routes, options.doctor);
  const loaded = loadConfig({ path: `${dir}/relay365.yaml`, env: options.env ?? SECRET_ENV });
  const report = await runDoctor(loaded, { log: pino({ level: 'silent' }), ...(options.sendTest ? { sendTest: options.sendTest } : {}) });
  recordForLeakScan('doctor report', JSON.stringify(report));
  return report;
}

/** The checks of one kind of the (only) route. */
export function checksOf(report: DoctorReport, check: CheckId, route?: string): CheckResult[] {
  const r = route ? report.routes.find((x) => x.route === route) : report.routes[0];
  return (r?.checks ?? []).filter((c) => c.check === check);
}

export function only(report: DoctorReport, check: CheckId, route?: string): CheckResult {
  const found = checksOf(report, check, route);
  if (found.length !== 1) throw new Error(`expected one ${check} check, got ${JSON.stringify(found)}\n${JSON.stringify(report, null, 2)}`);
  return found[0]!;
}


export function doctorCli(dir: string, args: string[], env: NodeJS.ProcessEnv = SECRET_ENV): Promise<CliResult> {
  return runCli(dir, args, { env });
}
