/**
 * The operator CLI cannot hurt by accident: bi-grant touches only accounts it created (others
 * need --force; the worker's own, never) and takes the password from BI_PASSWORD or stdin,
 * never argv; bi-revoke drops only those accounts and asks first; dlq replay says how many it
 * will move and asks first; --tenant is checked like an event's tenant on every command.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { consumers } from '../../consumers/index.js';
import { declareTopology, DLQ, MAIN_QUEUE } from '../../src/broker/topology.js';
import { parseMysqlUrl } from '../../src/ledger/db.js';
import { createTestDatabase, dropTestDatabase } from '../support/isolation.js';
import { createTestVhost, deleteTestVhost } from '../support/rabbit.js';
import { inventory, inventoryOnTty } from './run.js';

let mysqlUrl: string;
let root: Connection;
let vhost: string;
let amqpUrl: string;
let env: Record<string, string>;
const suffix = randomBytes(3).toString('hex');
const fresh = `bi_g_${suffix}`;
const other = `other_${suffix}`;
const PW = randomBytes(12).toString('hex');
const PW2 = randomBytes(12).toString('hex');
/** TCP from the tests is 127.0.0.1 (the server may skip name resolution: not 'localhost') */
const HOST = '127.0.0.1';

const canLogIn = async (user: string, password: string) => {
  const { host, port } = parseMysqlUrl(mysqlUrl);
  try {
    const c = await createConnection({ host, port, user, password });
    await c.end();
    return true;
  } catch {
    return false;
  }
};
const accountsNamed = async (user: string) =>
  (
    (await root.query('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]))[0] as {
      host: string;
    }[]
  )
    .map((r) => r.host)
    .sort();
const marked = async () => {
  const { database } = parseMysqlUrl(mysqlUrl);
  const [rows] = await root.query(
    `SELECT user, host FROM \`${database}\`.bi_accounts ORDER BY user`,
  );
  return rows as { user: string; host: string }[];
};

beforeAll(async () => {
  mysqlUrl = await createTestDatabase('guards');
  const { host, port, user, password } = parseMysqlUrl(mysqlUrl);
  root = await createConnection({ host, port, user, password });
  // an account that exists and that bi-grant did not make
  await root.query('CREATE USER ?@? IDENTIFIED BY ?', [other, HOST, PW]);
  ({ vhost, url: amqpUrl } = await createTestVhost('guards'));
  env = { MYSQL_URL: mysqlUrl, AMQP_URL: amqpUrl };
});

afterAll(async () => {
  for (const u of [fresh, other]) {
    for (const h of [HOST, 'localhost', '%'])
      await root?.query('DROP USER IF EXISTS ?@?', [u, h]).catch(() => undefined);
  }
  await root?.end();
  if (mysqlUrl) await dropTestDatabase(mysqlUrl);
  if (vhost) await deleteTestVhost(vhost);
});

describe('bi-grant', () => {
  test('takes no password from argv, and says where to give it', async () => {
    const argv = await inventory(['bi-grant', '--user', fresh, '--password', PW], env);
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/unknown option '--password'/);
    const none = await inventory(['bi-grant', '--user', fresh], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/BI_PASSWORD.*--password-stdin/);
    expect(await accountsNamed(fresh)).toEqual([]);
  });

  test('creates a new account from localhost by default, and records it as its own', async () => {
    const help = await inventory(['bi-grant', '--help'], env);
    expect(help.stdout).toMatch(/default: "localhost"/);
    const r = await inventory(['bi-grant', '--user', fresh], { ...env, BI_PASSWORD: PW });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`created '${fresh}'@'localhost'`));
    expect(await accountsNamed(fresh)).toEqual(['localhost']);
    expect(await marked()).toEqual([{ user: fresh, host: 'localhost' }]);
  });

  test('reads the password from stdin, and updates its own account', async () => {
    const r = await inventory(
      ['bi-grant', '--user', fresh, '--host', HOST, '--password-stdin'],
      env,
      `${PW}\n`,
    );
    expect(r.code).toBe(0);
    expect(await canLogIn(fresh, PW)).toBe(true);
    const again = await inventory(
      ['bi-grant', '--user', fresh, '--host', HOST, '--password-stdin'],
      env,
      PW2,
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/updated/);
    expect(await canLogIn(fresh, PW2)).toBe(true);
    expect(await canLogIn(fresh, PW)).toBe(false);
  });

  test('refuses an account it did not create unless --force, and never takes it over', async () => {
    const refused = await inventory(['bi-grant', '--user', other, '--host', HOST], {
      ...env,
      BI_PASSWORD: PW2,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing .*bi-grant did not create it.*--force/);
    expect(await canLogIn(other, PW)).toBe(true); // untouched
    const forced = await inventory(['bi-grant', '--user', other, '--host', HOST, '--force'], {
      ...env,
      BI_PASSWORD: PW2,
    });
    expect(forced.code).toBe(0);
    expect(await canLogIn(other, PW2)).toBe(true);
    // still not bi-grant's: bi-revoke refuses it
    expect((await marked()).map((m) => m.user)).not.toContain(other);
    const revoke = await inventory(['bi-revoke', '--user', other, '--host', HOST, '--yes'], env);
    expect(revoke.code).toBe(2);
    expect(revoke.stderr).toMatch(/refusing to drop .*bi-grant did not create it/);
    expect(await accountsNamed(other)).toEqual([HOST]);
  });

  test("refuses the worker's own account, even with --force", async () => {
    const self = parseMysqlUrl(mysqlUrl).user;
    const before = await accountsNamed(self);
    for (const host of ['localhost', '%', HOST]) {
      const r = await inventory(['bi-grant', '--user', self, '--host', host, '--force'], {
        ...env,
        BI_PASSWORD: PW2,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/account of MYSQL_URL/);
    }
    expect(await accountsNamed(self)).toEqual(before);
  });

  test('--print shows the SQL with a placeholder, and runs nothing', async () => {
    const r = await inventory(['bi-grant', '--user', 'bi_print', '--print'], {
      ...env,
      BI_PASSWORD: PW,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("CREATE USER 'bi_print'@'localhost' IDENTIFIED BY '<password>';");
    expect(r.stdout).toMatch(/INSERT IGNORE INTO `[^`]+`\.bi_accounts/);
    expect(r.stdout).not.toContain(PW);
    expect(await accountsNamed('bi_print')).toEqual([]);
  });
});

describe('bi-revoke', () => {
  test('asks on a terminal, refuses a script without --yes, drops its own with --yes', async () => {
    const script = await inventory(['bi-revoke', '--user', fresh], env);
    expect(script.code).toBe(2);
    expect(script.stderr).toMatch(/refusing to drop .* without --yes when not run from a terminal/);
    const no = await inventoryOnTty(['bi-revoke', '--user', fresh], env, 'no');
    expect(no.output).toMatch(/Drop the MySQL account .*Type "bi_g_/);
    expect(no.output).toMatch(/nothing dropped/);
    expect(await accountsNamed(fresh)).toEqual([HOST, 'localhost']);
    const yes = await inventoryOnTty(['bi-revoke', '--user', fresh], env, fresh);
    expect(yes.code).toBe(0);
    expect(yes.output).toMatch(/dropped/);
    expect(await accountsNamed(fresh)).toEqual([HOST]);
    const scripted = await inventory(['bi-revoke', '--user', fresh, '--host', HOST, '--yes'], env);
    expect(scripted.code).toBe(0);
    expect(await accountsNamed(fresh)).toEqual([]);
    expect(await marked()).toEqual([]);
  }, 120_000);
});

describe('dlq replay', () => {
  const depth = async () => {
    const conn = await amqp.connect(amqpUrl);
    try {
      const ch = await conn.createChannel();
      return {
        dlq: (await ch.checkQueue(DLQ)).messageCount,
        main: (await ch.checkQueue(MAIN_QUEUE)).messageCount,
      };
    } finally {
      await conn.close();
    }
  };

  beforeAll(async () => {
    const conn = await amqp.connect(amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      await declareTopology(ch, {
        queueType: 'quorum',
        types: [...consumers.keys()],
        deliveryLimit: 50,
      });
      for (let i = 1; i <= 3; i++) {
        ch.sendToQueue(DLQ, Buffer.from(`{"n":${i}}`), {
          persistent: true,
          messageId: `g-${i}`,
          headers: { 'x-original-routing-key': 'stock.received', 'x-error-reason': 'test' },
        });
      }
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
  });

  test('says how many first; refuses a script without --yes; on a terminal, asks', async () => {
    const script = await inventory(['dlq', 'replay'], env);
    expect(script.code).toBe(2);
    expect(script.stderr).toMatch(/3 dead letter\(s\) match/);
    expect(script.stderr).toMatch(/refusing to replay 3 dead letter\(s\) without --yes/);
    expect(await depth()).toEqual({ dlq: 3, main: 0 });
    const no = await inventoryOnTty(['dlq', 'replay'], env, 'no');
    expect(no.output).toMatch(/3 dead letter\(s\) match[\s\S]*Type "replay" to confirm/);
    expect(no.output).toMatch(/nothing replayed/);
    expect(await depth()).toEqual({ dlq: 3, main: 0 });
    const dry = await inventory(['dlq', 'replay', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run: 3 would be replayed/);
    const yes = await inventory(['dlq', 'replay', '--yes'], env);
    expect(yes.code).toBe(0);
    expect(yes.stderr).toMatch(/3 dead letter\(s\) match: replaying them/);
    expect(yes.stdout).toMatch(/replayed 3/);
    expect(await depth()).toEqual({ dlq: 0, main: 3 });
  }, 120_000);
});

describe('--tenant', () => {
  test('is checked like an event tenant on every command (exit 2, nothing run)', async () => {
    const commands = [
      ['stock', 'S'],
      ['history', 'S'],
      ['reservations', 'R'],
      ['low-stock'],
      ['stats'],
      ['locations'],
      ['transfers'],
      ['location', 'upsert', 'L'],
      ['location', 'bind', 'L', 'S'],
      ['location', 'unbind', 'L', 'S'],
      ['policy', 'S', 'deny'],
      ['cost', 'S', '1'],
      ['reconcile'],
      ['rebuild'],
      ['demo'],
    ];
    // services nobody listens on: a command that got past its options would fail otherwise
    const dead = {
      AMQP_URL: 'amqp://127.0.0.1:1',
      REDIS_URL: 'redis://127.0.0.1:1',
      MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
    };
    const BAD = ['has space', '_under-first', 'x'.repeat(65), 'a/b', ''];
    for (let i = 0; i < commands.length; i += 5) {
      const batch = commands.slice(i, i + 5).map((c, j) => [...c, '--tenant', BAD[(i + j) % 5]!]);
      const results = await Promise.all(batch.map((args) => inventory(args, dead)));
      results.forEach((r, j) => {
        const what = batch[j]!.join(' ');
        expect(r.code, what).toBe(2);
        expect(r.stderr, what).toMatch(/--tenant <tenant>.*invalid.*a tenant must be 1–64/);
      });
    }
  }, 120_000);
});
