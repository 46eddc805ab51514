/**
 * Pages that follow the queue as mail moves: Server-Sent Events from /api/events/messages tell
 * the page to fetch again; where the stream cannot be had (a proxy that buffers it, a browser
 * without EventSource) the page asks every few seconds instead. One page follows at a time:
 * a new page (or a sign-out) stops the last one's.
 */
const POLL_MS = 5000;
/** Several events close together (a batch delivered) make one redraw. */
const SETTLE_MS = 250;

let stopCurrent: (() => void) | null = null;

export function stopFollowing(): void {
  stopCurrent?.();
  stopCurrent = null;
}

/**
 * Calls `redraw` when the queue moves (and, with `id`, when that message does); `shown` says
 * how the page is kept current ("live" or "every 5 s"), for the page to show.
 */
export function follow(redraw: () => Promise<void>, shown: (how: string) => void, id?: string): void {
  const say = (how: string) => shown(how === 'live' ? 'Live: updates as mail moves' : how.startsWith('every') ? `Updates ${how}` : how);
  stopFollowing();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let busy = false;
  let again = false;
  const run = async () => {
    if (busy) return void (again = true);
    busy = true;
    try {
      await redraw();
    } catch (err) {
      // Signed out elsewhere, the relay restarting: the page keeps what it shows and says why it stopped.
      shown(`not updating: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      busy = false;
      if (again) {
        again = false;
        void run();
      }
    }
  };
  const soon = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      void run();
    }, SETTLE_MS);
  };
  let poll: ReturnType<typeof setInterval> | null = null;
  const fallBack = () => {
    if (poll) return;
    say(`every ${POLL_MS / 1000} s`);
    poll = setInterval(() => void run(), POLL_MS);
  };
  let source: EventSource | null = null;
  if (typeof EventSource === 'function') {
    source = new EventSource(`/api/events/messages${id ? `?id=${encodeURIComponent(id)}` : ''}`);
    source.addEventListener('ready', () => {
      say('live');
      soon(); // what moved between the page's fetch and the stream (or while reconnecting)
    });
    source.addEventListener(id ? 'message' : 'messages', soon);
    // Reconnecting (the stream ended, the network blinked) is EventSource's own; closed means refused.
    source.addEventListener('error', () => {
      if (source?.readyState === EventSource.CLOSED) fallBack();
    });
  } else fallBack();
  stopCurrent = () => {
    source?.close();
    if (poll) clearInterval(poll);
    if (timer) clearTimeout(timer);
  };
}
