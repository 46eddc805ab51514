/** The console's style sheet, by hand: readable on a laptop and at phone width, visible focus, no web fonts. */
export const consoleStyle = `
:root { --fg: #1d2430; --muted: #5d6776; --bg: #f6f7f9; --card: #fff; --line: #d9dde3; --accent: #0b5cad;
  --ok: #1e7b34; --warn: #8a5a00; --bad: #b3261e; --info: #3d5a80; font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.45; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
main:focus { outline: none; } /* focused by the script on each page change, for screen readers and the keyboard; not a control */
.top { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; padding: .6rem 1rem; background: #14213d; color: #fff; }
.top a { color: #fff; text-decoration: none; }
.top nav { display: flex; gap: 1rem; }
.top nav a:hover, .top nav a:focus { text-decoration: underline; }
.brand { font-weight: 700; }
#who { margin-left: auto; font-size: .9rem; }
#who .muted { color: #c8d0dc; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.25rem 0 .5rem; }
.muted { color: var(--muted); font-size: .9rem; }
.mono { font-family: ui-monospace, monospace; }
button, .button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; display: inline-block; }
button.link { background: none; border: none; color: #fff; text-decoration: underline; padding: 0; }
input, select { font: inherit; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: 4px; max-width: 100%; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge-delivered, .badge-ok, .badge-OK { color: var(--ok); }
.badge-failed, .badge-bounced, .badge-held, .badge-expired, .badge-route-broken, .badge-permanent { color: var(--bad); }
.badge-deferred, .badge-degraded, .badge-paused, .badge-transient, .badge-in-7-days, .badge-in-30-days { color: var(--warn); }
.badge-queued, .badge-sending, .badge-cancelled, .badge-kind { color: var(--info); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
.counts { display: flex; flex-wrap: wrap; gap: .75rem; list-style: none; padding: 0; }
.counts a { display: flex; gap: .5rem; align-items: center; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .4rem .7rem; text-decoration: none; color: var(--fg); }
.route-list { list-style: none; padding: 0; }
.route-list li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; margin-bottom: .5rem; }
.reason, .diagnosis { margin: .3rem 0; }
.fix { margin: .3rem 0; color: var(--ok); }
.warning { background: #fff4d6; border-left: 4px solid var(--warn); padding: .4rem .6rem; }
.error { color: var(--bad); font-weight: 600; }
.error:empty, .status:empty { display: none; }
.label { font-weight: 600; }
.upstream { font-family: ui-monospace, monospace; font-size: .9rem; background: #eef1f5; padding: .2rem .4rem; border-radius: 3px; overflow-wrap: anywhere; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: end; margin-bottom: .75rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.clip { max-width: 13rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.nowrap { white-space: nowrap; }
td.subject { min-width: 7rem; max-width: 20rem; overflow-wrap: anywhere; }
td.last-error { min-width: 9rem; max-width: 26rem; white-space: normal; overflow-wrap: anywhere; font-size: .85rem; }
.live { margin: -.75rem 0 .75rem; }
.live::before { content: "\\25CF  "; color: var(--ok); }
.outcome { border-left: 4px solid var(--line); padding-left: .75rem; margin: .75rem 0; }
.outcome.verdict-permanent, .outcome.verdict-route-broken { border-left-color: var(--bad); }
.outcome.verdict-transient { border-left-color: var(--warn); }
.outcome.verdict-delivered { border-left-color: var(--ok); }
.fix-text { margin: .3rem 0; }
.command { display: flex; gap: .5rem; align-items: flex-start; margin: .35rem 0; }
.command pre { flex: 1; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.command button { flex: none; font-size: .85rem; padding: .25rem .6rem; }
.path { list-style: none; padding: 0; margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .5rem 0; align-items: stretch; }
.path li { display: flex; align-items: stretch; }
.path li + li::before { content: "\\2192"; align-self: center; padding: 0 .5rem; font-size: 1.3rem; color: var(--muted); }
.path .step { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--line); border-radius: 6px; padding: .4rem .6rem; min-width: 9rem; max-width: 16rem; overflow-wrap: anywhere; }
.path .step-ok { border-top-color: var(--ok); }
.path .step-bad { border-top-color: var(--bad); }
.path .step-warn { border-top-color: var(--warn); }
.path .step-wait { border-top-color: var(--info); }
.path .step-title { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.path .step-name { font-weight: 600; }
.path .step-detail { font-size: .85rem; }
.headers th { white-space: nowrap; width: 1%; }
.headers td { overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: .85rem; }
.pairs { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
.pairs dt { font-weight: 600; }
.pairs dd { margin: 0; overflow-wrap: anywhere; }
.timeline { list-style: none; padding: 0; border-left: 3px solid var(--line); margin-left: .5rem; }
.timeline li { padding: .4rem .75rem; margin-bottom: .5rem; position: relative; }
.timeline li.verdict-delivered { border-left: 3px solid var(--ok); margin-left: -3px; }
.timeline li.verdict-permanent, .timeline li.verdict-route-broken { border-left: 3px solid var(--bad); margin-left: -3px; }
.timeline li.verdict-transient { border-left: 3px solid var(--warn); margin-left: -3px; }
.recipients { padding-left: 1.2rem; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.login { max-width: 22rem; margin: 3rem auto; display: flex; flex-direction: column; gap: .75rem; background: var(--card); padding: 1.25rem; border: 1px solid var(--line); border-radius: 6px; }
.login label { display: flex; flex-direction: column; gap: .2rem; }
.test-mail { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: end; }
.chart-box { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
.chart { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); }
.chart .tick { font-size: 11px; fill: var(--muted); }
.chart polyline { fill: none; stroke-width: 1.5; }
.chart .line-received, .legend.line-received { stroke: var(--info); color: var(--info); }
.chart .line-delivered, .legend.line-delivered { stroke: var(--ok); color: var(--ok); }
.chart .line-failed, .legend.line-failed { stroke: var(--bad); color: var(--bad); }
figcaption { display: flex; gap: 1rem; font-size: .9rem; margin-top: .25rem; }
.legend { font-weight: 600; }
pre { background: #eef1f5; padding: .5rem; overflow-x: auto; border-radius: 4px; font-size: .85rem; max-width: 100%; }
.card, .guide li { overflow-wrap: anywhere; min-width: 0; }
details.guide summary { cursor: pointer; font-weight: 600; margin: .5rem 0; }
@media (max-width: 640px) {
  .hide-narrow { display: none; }
  /* The queue's rows become small cards: id and state, then when, from and to. */
  table.queue, table.queue tbody, table.queue tr { display: block; }
  table.queue thead { display: none; }
  table.queue tr { border-bottom: 1px solid var(--line); padding: .35rem 0; }
  table.queue td { display: inline-block; border: none; padding: .1rem .4rem; }
  table.queue td.clip, table.queue td.subject { display: block; max-width: 100%; }
  .path { flex-direction: column; }
  .path li { flex-direction: column; }
  .path li + li::before { content: "\\2193"; align-self: flex-start; padding: 0 0 .25rem 1rem; }
  .path .step { max-width: 100%; }
  table.queue td.hide-narrow { display: none; }
  .pairs { grid-template-columns: 1fr; }
  .pairs dt { margin-top: .4rem; }
  main { padding: .6rem; }
}
`;
