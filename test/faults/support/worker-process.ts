/**
 * The real worker as a child process (`node --import tsx src/main.ts`), configured only
 * through its environment, as in production. Its JSON log lines are kept (the last few) to
 * know when it consumes and to explain a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const KEEP_LINES = 300;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class WorkerProcess {
  private child: ChildProcess | undefined;
  private ready = false;
  private readonly waiters: (() => void)[] = [];
  /** the last log lines of every run of this worker */
  readonly log: string[] = [];
  /** every exit, the ones this class caused included */
  readonly exits: Exit[] = [];
  /** exits nobody asked for (a crash) */
  unexpectedExits = 0;
  private expectingExit = false;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    /** extra node options before the script (e.g. `--import` of a test hook) */
    private readonly nodeArgs: string[] = [],
    /** every chunk of stdout and stderr as it comes (the log keeps only the last lines) */
    private readonly onOutput?: (chunk: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the worker and resolves once it logs that it is consuming. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    this.ready = false;
    this.expectingExit = false;
    const child = spawn(process.execPath, ['--import', 'tsx', ...this.nodeArgs, 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        LOG_LEVEL: 'info',
        HTTP_PORT: '0',
        RECONCILE_CRON: 'off',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let rest = '';
    const onData = (chunk: Buffer) => {
      this.onOutput?.(chunk.toString());
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.line(line);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    // 'close', not 'exit': the process may exit before its last output has been read
    child.once('close', (code, signal) => {
      this.exits.push({ code, signal });
      if (!this.expectingExit) this.unexpectedExits++;
      if (this.child === child) this.child = undefined;
      for (const f of this.waiters.splice(0)) f();
    });
    const end = Date.now() + timeoutMs;
    while (!this.ready) {
      if (!this.child) throw new Error(`${this.name} exited while starting:\n${this.tail()}`);
      if (Date.now() > end) throw new Error(`${this.name} did not start:\n${this.tail()}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  private line(line: string): void {
    if (!line) return;
    this.log.push(`[${this.name}] ${line}`);
    // FAULTS_LOG_DIR: every line of every worker, one file per worker (to investigate a run)
    if (process.env.FAULTS_LOG_DIR)
      appendFileSync(join(process.env.FAULTS_LOG_DIR, `${this.name}.log`), `${line}\n`);
    if (this.log.length > KEEP_LINES) this.log.splice(0, this.log.length - KEEP_LINES);
    if (line.includes('"worker consuming"')) {
      this.ready = true;
      for (const f of this.waiters.splice(0)) f();
    }
  }

  tail(n = 40): string {
    return this.log.slice(-n).join('\n');
  }

  /** SIGKILL: nothing is flushed, nothing acknowledged. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the worker finishes in-flight events, flushes and exits. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** As `docker stop` does: SIGTERM, then SIGKILL if still running after `graceMs`. */
  async terminate(graceMs: number): Promise<void> {
    await this.signal('SIGTERM', graceMs);
  }

  private async signal(signal: NodeJS.Signals, graceMs = 60_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    const gone = new Promise<void>((r) => child.once('close', () => r()));
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(force);
  }

  /** Resident memory of the process, bytes (from /proc). */
  rss(): number {
    const pid = this.child?.pid;
    if (!pid) return 0;
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  }
}
