/**
 * `relay365 setup ROUTE [--json]`: prints the tenant-side steps for the route's transport, filled
 * in with its values (src/doctor/setup-guide.ts builds them; the admin console shows the same).
 */
import type { Command } from 'commander';
import { own } from '../config/own.js';
import { unresolvedOf } from '../doctor/config-and-secrets.js';
import { setupGuide, type SetupGuide } from '../doctor/setup-guide.js';
import { EXIT, fail, type GlobalOptions } from './context.js';
import { allInDemoWords } from '../config/demo-route.js';
import { DEMO_ROUTE, DEMO_ROUTE_NAME, loadWithDemo } from './demo.js';

export function renderGuide(guide: SetupGuide): string {
  const lines = [`route ${guide.route} (${guide.transport})`, ...guide.warnings.map((w) => `warning: ${w}`), '', guide.summary];
  for (const section of guide.sections) {
    lines.push('', `== ${section.title}`);
    section.steps.forEach((step, i) => {
      lines.push(`${i + 1}. ${step.text}`);
      if (step.url) lines.push(`   ${step.url}`);
      if (step.command) lines.push(...step.command.split('\n').map((c) => `     ${c}`));
    });
  }
  return `${lines.join('\n')}\n`;
}

/** The demo route is filled in with the sandbox's tenant, which is already set up this way. */
function demoNote(origin: string): string {
  return `sandbox is ${DEMO_ROUTE_NAME}, delivering into the Microsoft 365 sandbox at ${origin}: its tenant contoso.example is set up like this already (sandbox/tenants/contoso.example.yaml). For your own tenant, write a relay365.yaml (relay365 init --transport graph) and run relay365 setup with its route.`;
}

export function setupCommand(program: Command, global: () => GlobalOptions): void {
  program
    .command('setup <route>')
    .description("print the tenant-side steps for a route (app registration, admin consent, Exchange Online PowerShell, SPF, connector), filled in with the route's values")
    .option('--json', 'the guide as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      // The secret may not exist yet: this is the command that says how to create it.
      const loaded = await loadWithDemo(global(), { tolerateSecrets: true });
      const { config, demo } = loaded;
      const route = own(config.routes, name);
      if (!route) fail(`no route "${name}"; routes: ${Object.keys(config.routes).join(', ') || 'none'}`, EXIT.usage);
      let guide = setupGuide(name, route, { publicIps: config.doctor.publicIps, unresolvedSecrets: unresolvedOf(name, loaded) });
      if (demo && name === DEMO_ROUTE) {
        guide = allInDemoWords(guide);
        guide.warnings.unshift(demoNote(demo.origin));
      }
      process.stdout.write(opts.json ? `${JSON.stringify(guide, null, 2)}\n` : renderGuide(guide));
    });
}
