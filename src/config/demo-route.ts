/**
 * The demo route: with no route configured, `relay365 serve` (npm start) delivers into the
 * Microsoft 365 sandbox through a route it makes itself (src/cli/demo.ts). What relay365 says
 * about it — a diagnosis, a fix, a route's state — cannot send the admin to keys of a
 * relay365.yaml that does not exist: it names the demo route in words, and says how to
 * configure a route of one's own.
 */
export const DEMO_ROUTE = 'sandbox';
export const DEMO_ROUTE_NAME = 'the demo route (no relay365.yaml)';
const CONFIGURE_ONE = 'The demo route (no relay365.yaml) has no settings to change: relay365 init writes a relay365.yaml, whose routes replace it.';

/** "routes.sandbox.sender.allowed" → "the demo route's sender.allowed"; "routes.sandbox" → "the demo route". */
export function inDemoWords(text: string): string {
  return text.replace(new RegExp(`routes\\.${DEMO_ROUTE}\\b(\\.)?`, 'g'), (_, dot?: string) => (dot ? "the demo route's " : 'the demo route'));
}

/** The same, for everything a command or the API answers about the routes (JSON-shaped). */
export function allInDemoWords<T>(answer: T): T {
  return JSON.parse(inDemoWords(JSON.stringify(answer))) as T;
}

/** A fix that named the demo route's keys, in words, with how to configure a route instead. */
export function demoFix(fix: string): string {
  const said = inDemoWords(fix);
  return said === fix ? fix : `${said} ${CONFIGURE_ONE}`;
}
