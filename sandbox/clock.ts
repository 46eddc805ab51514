// The sandbox's notion of "now", which tests may move forward.
//
// Everything in Entra that expires (codes, device codes, refresh tokens after 90 days of
// inactivity, client secrets, access tokens) is judged against this clock. Advancing it lets a
// test see AADSTS700082 or an expired device code without waiting, while clients keep their own
// real clocks, exactly as a client's and Microsoft's clocks are independent.
export class SandboxClock {
  private offset = 0;

  /** Milliseconds since the epoch, sandbox time. */
  now(): number {
    return Date.now() + this.offset;
  }

  /** Seconds since the epoch, sandbox time (the unit of JWT claims). */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  date(): Date {
    return new Date(this.now());
  }

  /** Moves sandbox time forward (never back: tokens already issued must not become "not yet valid"). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`the sandbox clock only moves forward; got ${ms} ms`);
    this.offset += ms;
  }

  /** How far sandbox time is ahead of real time. */
  get offsetMs(): number {
    return this.offset;
  }
}
