/**
 * Runs tasks so that tasks sharing a key run one at a time, in the order they were submitted;
 * tasks with no key in common run concurrently. This is how events about the same cart or
 * order keep their delivery order while the prefetch window is processed in parallel.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const before: Promise<void>[] = [];
    for (const k of keys) {
      const t = this.tails.get(k);
      if (t) before.push(t);
    }
    const result = before.length ? Promise.all(before).then(task) : task();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
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
