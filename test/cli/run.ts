import { execFile, spawn } from 'node:child_process';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX = `${ROOT}node_modules/.bin/tsx`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `inventory <args>` (src/cli.ts through tsx) with the environment given; never throws.
 * stdin is `input`, or empty: a command reading it never waits for a test that gives none.
 */
export function inventory(
  args: string[],
  env: Record<string, string>,
  input = '',
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      TSX,
      ['src/cli.ts', ...args],
      { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `inventory <args>` on a terminal (a pty made by util-linux `script`), types `answer`
 * once it asks to confirm, and returns what the terminal showed (stdout and stderr together).
 */
export function inventoryOnTty(
  args: string[],
  env: Record<string, string>,
  answer: string,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const command = [TSX, 'src/cli.ts', ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    });
    let output = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!answered && output.includes('to confirm:')) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child.stdin.end();
      resolve({ code: code ?? -1, output });
    });
  });
}
