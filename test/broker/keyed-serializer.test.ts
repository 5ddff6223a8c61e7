import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedSerializer, KeyedTurns } from '../../src/broker/keyed-serializer.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedSerializer', () => {
  it('runs the tasks of a key one at a time, in order; other keys meanwhile', async () => {
    const s = new KeyedSerializer();
    const log: string[] = [];
    let endA!: () => void;
    const a = s.run(['k'], () => new Promise<void>((r) => (endA = r)).then(() => log.push('a')));
    const b = s.run(['k'], async () => log.push('b'));
    const c = s.run(['other'], async () => log.push('c'));
    await c;
    await tick();
    expect(log).toEqual(['c']);
    endA();
    await Promise.all([a, b]);
    expect(log).toEqual(['c', 'a', 'b']);
  });

  it('a task that releases its turn lets the next one start while it goes on', async () => {
    const s = new KeyedSerializer();
    const log: string[] = [];
    let endA!: () => void;
    const a = s.run(['k'], async (release) => {
      log.push('a applied');
      release();
      await new Promise<void>((r) => (endA = r));
      log.push('a durable');
    });
    const b = s.run(['k'], async () => log.push('b applied'));
    await b;
    expect(log).toEqual(['a applied', 'b applied']);
    endA();
    await a;
    expect(log).toEqual(['a applied', 'b applied', 'a durable']);
    await tick();
    expect(s.size).toBe(0);
  });

  it('a failed task hands its turn on', async () => {
    const s = new KeyedSerializer();
    const a = s.run(['k'], () => Promise.reject(new Error('boom')));
    const b = s.run(['k'], async () => 'b');
    await expect(a).rejects.toThrow('boom');
    await expect(b).resolves.toBe('b');
  });
});

describe('KeyedTurns', () => {
  it('turns in entry order per key, through the entrants between', async () => {
    const t = new KeyedTurns();
    const log: string[] = [];
    const a = t.enter(['cart']);
    const b = t.enter(['cart', 'order']);
    const c = t.enter(['order']);
    const x = t.enter(['elsewhere']);
    void c.ready.then(() => log.push('c'));
    void b.ready.then(() => log.push('b'));
    void x.ready.then(() => log.push('x'));
    await tick();
    expect(log).toEqual(['x']);
    a.done();
    await tick();
    expect(log).toEqual(['x', 'b']);
    b.done();
    b.done(); // more than once: nothing more
    await tick();
    expect(log).toEqual(['x', 'b', 'c']);
    c.done();
    x.done();
    await tick();
    expect(t.size).toBe(0);
  });

  it('an entrant done before its turn still waits for those before it', async () => {
    const t = new KeyedTurns();
    const a = t.enter(['k']);
    const b = t.enter(['k']);
    const c = t.enter(['k']);
    b.done(); // b gave up (say, dead-lettered) while a is still on
    let cReady = false;
    void c.ready.then(() => (cReady = true));
    await tick();
    expect(cReady).toBe(false);
    a.done();
    await tick();
    expect(cReady).toBe(true);
  });
});

/**
 * The turns against a model: an entrant's turn has come once every earlier entrant sharing a
 * key with it has had its turn and is done. Random entries (keys from a small set, so they
 * overlap) and random `done`s, with the microtasks run after each step; after every step, the
 * entrants whose turn came are exactly the model's.
 */
describe('the lines, against a model', () => {
  const KEYS = ['a', 'b', 'c', 'd'];
  type Step = { enter: string[] } | { done: number };
  const steps = fc.array(
    fc.oneof(
      fc.record({
        enter: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ done: fc.nat(40) }),
    ),
    { maxLength: 40 },
  );

  /** Whose turn has come, by the model, given each entrant's keys and whether it is done. */
  function modelTurns(keys: string[][], done: boolean[]): boolean[] {
    const turn: boolean[] = [];
    keys.forEach((ks, i) => {
      let come = true;
      for (let j = 0; j < i && come; j++) {
        if (keys[j]!.some((k) => ks.includes(k))) come = turn[j]! && done[j]!;
      }
      turn.push(come);
    });
    return turn;
  }

  /** Applies the steps to `enter`/`done` of a line, checking `turns()` against the model. */
  async function check(
    script: Step[],
    enter: (keys: string[]) => void,
    finish: (i: number) => boolean,
    turns: () => boolean[],
    size: () => number,
  ): Promise<void> {
    const keys: string[][] = [];
    const done: boolean[] = [];
    for (const step of script) {
      if ('enter' in step) {
        keys.push(step.enter);
        done.push(false);
        enter(step.enter);
      } else if (keys.length > 0) {
        const i = step.done % keys.length;
        // (a task can be done only once it has started; KeyedTurns' entrants may be done earlier)
        if (finish(i)) done[i] = true;
      }
      await tick();
      expect(turns()).toEqual(modelTurns(keys, done));
    }
    // everyone done: every turn comes, and no key is left behind
    for (let i = 0; i < keys.length; i++) {
      expect(finish(i)).toBe(true);
      await tick();
    }
    expect(turns()).toEqual(keys.map(() => true));
    expect(size()).toBe(0);
  }

  it('KeyedTurns: ready exactly when the model says', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (script) => {
        const t = new KeyedTurns();
        const entered: { done: () => void }[] = [];
        const ready: boolean[] = [];
        await check(
          script,
          (keys) => {
            const turn = t.enter(keys);
            const i = ready.push(false) - 1;
            void turn.ready.then(() => (ready[i] = true));
            entered.push(turn);
          },
          (i) => {
            entered[i]!.done();
            return true;
          },
          () => ready,
          () => t.size,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('KeyedSerializer: a task starts exactly when the model says, and releasing is its done', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (script) => {
        const s = new KeyedSerializer();
        const started: boolean[] = [];
        const releases: (() => void)[] = [];
        const ends: (() => void)[] = [];
        // a task is done by its release (half the entrants) or by ending (the others)
        await check(
          script,
          (keys) => {
            const i = started.push(false) - 1;
            void s.run(keys, (release) => {
              started[i] = true;
              releases[i] = release;
              return new Promise<void>((r) => (ends[i] = r));
            });
          },
          (i) => {
            if (!started[i]) return false;
            if (i % 2 === 0) releases[i]!();
            else ends[i]!();
            return true;
          },
          () => started,
          () => s.size,
        );
      }),
      { numRuns: 300 },
    );
  });
});
