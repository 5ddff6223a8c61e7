/**
 * Lines of entrants per key: an entrant's turn comes once every entrant before it on any of its
 * keys has had its turn and is done. KeyedSerializer runs tasks in those lines; KeyedTurns only
 * hands out the turns.
 *
 * The bookkeeping is counters and arrays, not promises: every delivery enters two lines (its
 * script, its announcement), almost always with no one ahead of it, and a promise chain per
 * entrant (the turn it waits for, the turn it hands on, the clean-up of its keys) cost about
 * eight promises and their microtasks per delivery for nothing (docs/architecture.md, "Order").
 */

/** One entrant of the lines of its keys. */
class Entrant {
  /** entrants ahead of this one (on any of its keys) not yet through */
  ahead = 0;
  /** done was called (its turn may not have come yet) */
  left = false;
  /** entrants behind this one that wait for it (once per key they share) */
  behind: Entrant[] | undefined;
  /** called when the turn comes after a wait (never when it came at once) */
  onTurn: (() => void) | undefined;

  constructor(readonly keys: readonly string[]) {}
}

class Lines {
  /** the last entrant of each key, until it is through */
  private readonly tails = new Map<string, Entrant>();

  get size(): number {
    return this.tails.size;
  }

  enter(keys: readonly string[]): Entrant {
    const e = new Entrant(keys);
    for (const k of keys) {
      const t = this.tails.get(k);
      // (t === e: a key named twice by the same entrant, which waits for no one on it)
      if (t !== undefined && t !== e) {
        (t.behind ??= []).push(e);
        e.ahead++;
      }
      this.tails.set(k, e);
    }
    return e;
  }

  /** The entrant is done; once its turn has come too, those behind it move up. */
  leave(e: Entrant): void {
    if (e.left) return;
    e.left = true;
    if (e.ahead === 0) this.through(e);
  }

  private through(e: Entrant): void {
    for (const k of e.keys) if (this.tails.get(k) === e) this.tails.delete(k);
    const behind = e.behind;
    e.behind = undefined;
    if (!behind) return;
    for (const b of behind) {
      if (--b.ahead !== 0) continue;
      b.onTurn?.();
      // done before its turn came (KeyedTurns): through at once
      if (b.left) this.through(b);
    }
  }
}

/**
 * Runs tasks so that tasks sharing a key run one at a time, in the order they were submitted;
 * tasks with no key in common run concurrently. This is how events about the same cart or
 * order keep their delivery order while the prefetch window is processed in parallel.
 *
 * A task may hand its turn on before it ends (`release`, its argument): the next task of its
 * keys starts then, while it goes on. The processor does so once an event is applied in Redis,
 * so that the next event of a cart is applied in order without waiting for the first one's
 * MySQL commit (a convoy at moderate load: each step of a shopper behind the previous step's
 * whole commit). A task that ends, or fails, hands its turn on too.
 */
export class KeyedSerializer {
  private readonly lines = new Lines();

  run<T>(keys: readonly string[], task: (release: () => void) => Promise<T>): Promise<T> {
    const e = this.lines.enter(keys);
    if (e.ahead === 0) return this.start(e, task);
    return new Promise<T>((resolve, reject) => {
      // started in a microtask of its own, not inside the release of the task ahead of it
      e.onTurn = () => queueMicrotask(() => this.start(e, task).then(resolve, reject));
    });
  }

  private start<T>(e: Entrant, task: (release: () => void) => Promise<T>): Promise<T> {
    const release = () => this.lines.leave(e);
    let result: Promise<T>;
    try {
      result = task(release);
    } catch (err) {
      release();
      return Promise.reject(err);
    }
    result.then(release, release);
    return result;
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.lines.size;
  }
}

const RESOLVED = Promise.resolve();

/** A turn handed out by KeyedTurns. */
export interface Turn {
  /** resolves when the entrants before this one on its keys are done */
  readonly ready: Promise<void>;
  /** this entrant is done (any number of times): those after it may go on */
  done(): void;
}

/**
 * Turns in submission order per key, without running anything: `enter` returns when the
 * previous entrants of its keys are done (`ready`) and a `done` to call (any number of times)
 * when this one is. The processor uses it so that the announcements of a cart's or an order's
 * events are published in delivery order, now that their MySQL commits may end out of order.
 * An entrant done before its turn came still lets those after it go on only once it has come.
 */
export class KeyedTurns {
  private readonly lines = new Lines();

  enter(keys: readonly string[]): Turn {
    const e = this.lines.enter(keys);
    const lines = this.lines;
    let ready: Promise<void> | undefined;
    return {
      get ready() {
        if (e.ahead === 0) return RESOLVED;
        return (ready ??= new Promise<void>((resolve) => (e.onTurn = resolve)));
      },
      done: () => lines.leave(e),
    };
  }

  /** Keys with an entrant not yet through. */
  get size(): number {
    return this.lines.size;
  }
}
