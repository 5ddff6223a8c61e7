/**
 * Runs tasks so that tasks sharing a key run one at a time, in the order they were submitted;
 * tasks with no key in common run concurrently. This is how events about the same cart or
 * order keep their delivery order while the prefetch window is processed in parallel.
 *
 * A task may hand its turn on before it ends (`release`, its argument): the next task of its
 * keys starts then, while it goes on. The processor does so once an event is applied in Redis,
 * so that the next event of a cart is applied in order without waiting for the first one's
 * MySQL commit (a convoy at moderate load: each step of a shopper behind the previous step's
 * whole commit).
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(keys: readonly string[], task: (release: () => void) => Promise<T>): Promise<T> {
    const before: Promise<void>[] = [];
    for (const k of keys) {
      const t = this.tails.get(k);
      if (t) before.push(t);
    }
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const result = before.length ? Promise.all(before).then(() => task(release)) : task(release);
    const tail = Promise.race([
      released,
      result.then(
        () => undefined,
        () => undefined,
      ),
    ]);
    for (const k of keys) this.tails.set(k, tail);
    void tail.then(() => {
      for (const k of keys) if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return result;
  }

  get size(): number {
    return this.tails.size;
  }
}

/**
 * Turns in submission order per key, without running anything: `enter` returns when the
 * previous entrants of its keys are done (`ready`) and a `done` to call (any number of times)
 * when this one is. The processor uses it so that the announcements of a cart's or an order's
 * events are published in delivery order, now that their MySQL commits may end out of order.
 */
export class KeyedTurns {
  private readonly tails = new Map<string, Promise<void>>();

  enter(keys: readonly string[]): { ready: Promise<void>; done: () => void } {
    const before: Promise<void>[] = [];
    for (const k of keys) {
      const t = this.tails.get(k);
      if (t) before.push(t);
    }
    let done!: () => void;
    const own = new Promise<void>((r) => (done = r));
    const ready =
      before.length === 0
        ? Promise.resolve()
        : before.length === 1
          ? before[0]!
          : Promise.all(before).then(() => undefined);
    // the next entrant waits for this one and, through it, for those before it
    const tail = before.length === 0 ? own : ready.then(() => own);
    for (const k of keys) this.tails.set(k, tail);
    void tail.then(() => {
      for (const k of keys) if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return { ready, done };
  }

  get size(): number {
    return this.tails.size;
  }
}
