import type { Command } from 'commander';
import type { Config } from '../config.js';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters } from '../broker/dlq.js';
import { printable } from '../broker/printable.js';
import { confirmed } from './confirm.js';
import { EXIT, intArg } from './exit.js';
import { CliError } from '../errors/cli-error.js';
import { printJson, printTable, progress } from './output.js';

/** `inventory dlq …`: what failed, why, and putting it back once the cause is fixed. */
export function registerDlq(program: Command, config: () => Config): void {
  const dlq = program
    .command('dlq')
    .description('inspect, replay and purge dead-lettered events (queue inventory.dlq)');
  registerDlqList(dlq, config);
  registerDlqShow(dlq, config);
  registerDlqReplay(dlq, config);
  registerDlqPurge(dlq, config);
}

/** `inventory dlq list`: list dead letters with type, reason and age, and counts by reason. */
function registerDlqList(dlq: Command, config: () => Config): void {
  dlq
    .command('list')
    .description('list dead letters with type, reason and age, and counts by reason')
    .option('--limit <n>', 'read at most this many messages', intArg(1), 1000)
    .option('--json', 'print JSON')
    .action(async (o: { limit: number; json?: boolean }) => {
      const items = await listDeadLetters(config().AMQP_URL, o.limit, config().tls.amqp);
      const byReason = new Map<string, number>();
      for (const d of items) {
        const key = d.reason.split(':')[0]!;
        byReason.set(key, (byReason.get(key) ?? 0) + 1);
      }
      if (o.json) {
        printJson({
          count: items.length,
          byReason: Object.fromEntries(byReason),
          items: items.map(({ body: _b, headers: _h, ...d }) => d),
        });
        return;
      }
      printTable(
        items.map((d) => ({
          ...d,
          age: d.ageSeconds === undefined ? '' : `${d.ageSeconds}s`,
          reason: d.reason.slice(0, 100),
        })),
        ['id', 'type', 'age', 'attempts', 'reason'],
      );
      console.log(`\n${items.length} dead letter(s)`);
      for (const [reason, n] of byReason) console.log(`  ${n}\t${printable(reason)}`);
    });
}

/** `inventory dlq show`: show one dead letter: headers and body. */
function registerDlqShow(dlq: Command, config: () => Config): void {
  dlq
    .command('show <id>')
    .description('show one dead letter: headers and body')
    .option('--limit <n>', 'search at most this many messages', intArg(1), 10000)
    .addHelpText('after', '\nExit status 4 when no dead letter has this id.')
    .action(async (id: string, o: { limit: number }) => {
      const found = (await listDeadLetters(config().AMQP_URL, o.limit, config().tls.amqp)).find(
        (d) => d.id === id,
      );
      if (!found) throw new CliError(`no dead letter with id ${id}`, EXIT.notFound);
      let body: unknown = found.body;
      try {
        body = JSON.parse(found.body);
      } catch {
        // shown as the raw text
      }
      printJson({ ...found, body });
    });
}

/** `inventory dlq replay`: publish dead letters back onto commerce.events (original routing key and message id). */
function registerDlqReplay(dlq: Command, config: () => Config): void {
  dlq
    .command('replay')
    .description(
      'publish dead letters back onto commerce.events (original routing key and message id)',
    )
    .option('--type <type>', 'only events of this type')
    .option('--reason <text>', 'only dead letters whose reason contains this text')
    .option('--id <id>', 'only this event id')
    .option('--dry-run', 'show what would be replayed, change nothing')
    .option('--limit <n>', 'look at most at this many messages', intArg(1), 100000)
    .option('--yes', 'do not ask')
    .addHelpText(
      'after',
      '\nWithout --dry-run it first counts what matches and says so; on a terminal it then asks\n' +
        '(type "replay"); a script passes --yes, without which it refuses when not run from a\n' +
        'terminal (exit 2).',
    )
    .action(
      async (o: {
        type?: string;
        reason?: string;
        id?: string;
        dryRun?: boolean;
        limit: number;
        yes?: boolean;
      }) => {
        const filter = {
          ...(o.type !== undefined ? { type: o.type } : {}),
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.id !== undefined ? { id: o.id } : {}),
        };
        const replay = (dryRun: boolean, onProgress?: (n: number) => void) =>
          replayDeadLetters(
            config().AMQP_URL,
            filter,
            { dryRun, limit: o.limit, ...(onProgress ? { onProgress } : {}) },
            config().tls.amqp,
          );
        if (!o.dryRun) {
          // say how many before moving any: the count is of now (more may be dead-lettered since)
          const { matched } = await replay(true);
          if (matched === 0) {
            console.log('nothing to replay: no dead letter matches');
            return;
          }
          console.error(`${matched} dead letter(s) match: replaying them to commerce.events`);
          const ok = await confirmed({
            yes: o.yes,
            action: `replay ${matched} dead letter(s)`,
            question: `Publish ${matched} dead letter(s) back to commerce.events?`,
            word: 'replay',
          });
          if (!ok) {
            console.log('nothing replayed');
            return;
          }
        }
        const bar = progress('replayed');
        const r = await replay(Boolean(o.dryRun), (n) => bar.update(n));
        bar.end();
        console.log(
          o.dryRun
            ? `dry run: ${r.matched} would be replayed, ${r.kept} would stay`
            : `replayed ${r.replayed}, ${r.kept} left in inventory.dlq`,
        );
      },
    );
}

/** `inventory dlq purge`: delete every dead letter (asks for confirmation). */
function registerDlqPurge(dlq: Command, config: () => Config): void {
  dlq
    .command('purge')
    .description('delete every dead letter (asks for confirmation)')
    .option('--yes', 'do not ask')
    .action(async (o: { yes?: boolean }) => {
      const ok = await confirmed({
        yes: o.yes,
        action: 'purge',
        question: 'Delete every message in inventory.dlq?',
        word: 'purge',
      });
      if (!ok) {
        console.log('nothing deleted');
        return;
      }
      console.log(
        `purged ${await purgeDeadLetters(config().AMQP_URL, config().tls.amqp)} dead letter(s)`,
      );
    });
}
