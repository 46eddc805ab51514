/**
 * A route's setup guide for the routes page: the tenant-side steps and commands that
 * `relay365 setup ROUTE` prints (src/doctor/setup-guide.ts), as data the console draws.
 */
import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import { effectiveRoutes } from '../delivery/router.js';
import { setupGuide, type SetupGuide } from '../doctor/setup-guide.js';

export type { SetupGuide };

export async function setupGuideFor(config: Config, route: string): Promise<SetupGuide | null> {
  const routeConfig = own(effectiveRoutes(config), route);
  if (!routeConfig) return null;
  return setupGuide(route, routeConfig, { publicIps: config.doctor.publicIps });
}
