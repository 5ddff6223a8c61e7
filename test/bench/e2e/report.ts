/**
 * How a benchmark child (the no-op consumer, the baseline) tells the bench what it finished
 * and when: over the IPC channel, batched every 100 ms.
 */
import { nowMs } from './publisher.js';

export type ChildMessage =
  | { kind: 'ready' }
  | { kind: 'progress'; done: number; finished: [id: string, atMs: number][] }
  | { kind: 'error'; message: string };

export class ProgressReporter {
  private done = 0;
  private finished: [string, number][] = [];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    if (!process.send) throw new Error('run me from the bench (needs an IPC channel)');
    this.timer = setInterval(() => this.flush(), 100);
  }

  send(m: ChildMessage): void {
    process.send?.(m);
  }

  /** One event is finished (acked by the no-op consumer, committed by the baseline). */
  finish(id: string | undefined): void {
    this.done++;
    if (id !== undefined) this.finished.push([id, nowMs()]);
  }

  flush(): void {
    if (this.finished.length === 0 && this.done === 0) return;
    this.send({ kind: 'progress', done: this.done, finished: this.finished.splice(0) });
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
