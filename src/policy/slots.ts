/**
 * Places for work that must not run too often at once on this node — password checks, which
 * cost scrypt's 128 MiB and most of a second of a CPU each: at most `max` per key, and up to
 * `waiting` more wait their turn (a burst of an application's connections signing in together
 * is served, not refused); beyond that, no place, and the caller says "try again in a moment".
 */
export class Slots {
  private readonly keys = new Map<string, { running: number; line: (() => void)[] }>();

  constructor(
    private readonly max: number,
    private readonly waiting: number,
  ) {}

  /** A place for the key (call the function returned to give it back), or null when even the line is full. */
  async take(key: string): Promise<(() => void) | null> {
    let slot = this.keys.get(key);
    if (!slot) this.keys.set(key, (slot = { running: 0, line: [] }));
    if (slot.running < this.max) slot.running++;
    else if (slot.line.length < this.waiting) await new Promise<void>((turn) => slot.line.push(turn));
    else return null;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.release(key, slot);
    };
  }

  private release(key: string, slot: { running: number; line: (() => void)[] }): void {
    const next = slot.line.shift();
    if (next) return next(); // the place passes to the next in line
    slot.running--;
    if (slot.running === 0) this.keys.delete(key);
  }
}
