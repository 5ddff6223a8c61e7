import { createInterface } from 'node:readline/promises';
import { EXIT } from './exit.js';
import { CliError } from '../errors/cli-error.js';

/**
 * Asks before a command that cannot be undone: on a terminal the operator types `word`; a
 * script says `--yes`. Without a terminal and without `--yes` the command is refused (exit 2)
 * rather than run unasked. The question goes to stderr: stdout is for data.
 */
export async function confirmed(o: {
  yes: boolean | undefined;
  /** what is refused, for the message: "purge", "replay 3 dead letters" */
  action: string;
  question: string;
  word: string;
}): Promise<boolean> {
  if (o.yes) return true;
  if (!process.stdin.isTTY) {
    throw new CliError(
      `refusing to ${o.action} without --yes when not run from a terminal`,
      EXIT.usage,
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${o.question} Type "${o.word}" to confirm: `);
    return answer.trim() === o.word;
  } finally {
    rl.close();
  }
}
