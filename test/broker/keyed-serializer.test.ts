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
