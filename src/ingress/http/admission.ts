/**
 * How much the HTTP submission API takes on at once. Each request's body is held in memory
 * until the message is committed, so without a bound a burst of large submissions (or slow
 * clients announcing large bodies) could take the node's memory. A submission needs a place
 * (http.maxConcurrent) and room for its body (http.maxBuffered, reserved from Content-Length
 * when the client gives one, else as the bytes arrive); without them the answer is 503 with
 * Retry-After, before the body is read. A request alone always gets room for its body, so a
 * message up to http.maxMessageSize is never refused for good.
 */
export interface AdmissionLimits {
  maxConcurrent: number;
  maxBuffered: number;
}

/** One admitted submission: its place and the bytes it holds, all given back by leave(). */
export interface Admitted {
  /** Room for `bytes` more of this request's body; false when the API holds too much already. */
  reserve(bytes: number): boolean;
  leave(): void;
}

export class Admission {
  private submissions = 0;
  private buffered = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  /** A place for one more submission, or null when http.maxConcurrent are being taken already. */
  enter(): Admitted | null {
    if (this.submissions >= this.limits.maxConcurrent) return null;
    this.submissions++;
    let held = 0;
    let left = false;
    return {
      reserve: (bytes) => {
        if (left) return false;
        if (this.buffered > 0 && this.buffered + bytes > this.limits.maxBuffered) return false;
        this.buffered += bytes;
        held += bytes;
        return true;
      },
      leave: () => {
        if (left) return;
        left = true;
        this.buffered -= held;
        this.submissions--;
      },
    };
  }
}
