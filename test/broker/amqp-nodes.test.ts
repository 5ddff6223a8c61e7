/**
 * `AMQP_URL` with several nodes: how it is read, and that a connection goes to the next node
 * when one does not answer (against the real broker; the dead nodes are closed local ports).
 */
import { createServer } from 'node:net';
import amqp from 'amqplib';
import { describe, expect, test } from 'vitest';
import { amqpNodes } from '../../src/amqp-address.js';
import { connectFirst, nextNodeDelay, RotatingAddress } from '../../src/broker/amqp-nodes.js';
import { loadConfig } from '../../src/config.js';
import { maskUrl } from '../../src/secrets.js';

const LIVE = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

/** A local port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('reading AMQP_URL', () => {
  test('one URL, a list of URLs, and host:port items that take the first one’s settings', () => {
    expect(amqpNodes('amqp://u:p%40ss@rabbit-1:5673/shop%2Fa?heartbeat=15')).toEqual([
      {
        protocol: 'amqp',
        hostname: 'rabbit-1',
        port: 5673,
        username: 'u',
        password: 'p@ss',
        vhost: 'shop%2Fa',
        heartbeat: 15,
        frameMax: undefined,
        channelMax: undefined,
        label: 'amqp://rabbit-1:5673/shop%2Fa',
      },
    ]);
    const nodes = amqpNodes('amqps://u:p@r1/v?frameMax=8192, r2:5680 ,r3,amqps://u:q@r4:1');
    expect(nodes.map((n) => n.label)).toEqual([
      'amqps://r1/v',
      'amqps://r2:5680/v',
      'amqps://r3/v',
      'amqps://r4:1/',
    ]);
    expect(nodes.map((n) => [n.port, n.username, n.password, n.frameMax])).toEqual([
      [5671, 'u', 'p', 8192],
      [5680, 'u', 'p', 8192],
      [5671, 'u', 'p', 8192],
      [1, 'u', 'q', undefined],
    ]);
    // neither user nor password: amqplib's guest
    expect(amqpNodes('amqp://h')[0]).toMatchObject({ username: 'guest', password: 'guest' });
  });

  test.each([
    ['', /names no node/],
    ['redis://h', /node 1 does not start with amqp/],
    ['amqp://h,amqps://h2', /node 2 uses amqps:, node 1 amqp:/],
    ['amqp://u:p@h,amqp://v:p@h2', /node 2 names another user than node 1/],
    ['amqp://h,h2:port', /node 2 is neither a URL nor host:port/],
    ['amqp://h,h2:1:2', /node 2 is neither a URL nor host:port/],
  ])('%j is refused: %s', (value, error) => {
    expect(() => amqpNodes(value)).toThrow(error);
  });

  test('the configuration refuses a bad list, and never prints its passwords', () => {
    expect(() =>
      loadConfig({ AMQP_URL: 'amqp://u:s3cret@h1,amqp://v:s3cret@h2' } as NodeJS.ProcessEnv),
    ).toThrow(/AMQP_URL.*node 2 names another user/s);
    try {
      loadConfig({ AMQP_URL: 'amqp://u:s3cret@h1,amqp://v:s3cret@h2' } as NodeJS.ProcessEnv);
    } catch (e) {
      expect(String(e)).not.toContain('s3cret');
    }
    expect(maskUrl('amqp://u:s3cret@h1,amqp://u:s3cret@h2')).not.toContain('s3cret');
    expect(loadConfig({ AMQP_URL: 'amqp://u:p@h1,h2,h3:5673' } as NodeJS.ProcessEnv).AMQP_URL).toBe(
      'amqp://u:p@h1,h2,h3:5673',
    );
  });

  test('the delay: a short pause while untried nodes are left, then backoff', () => {
    const address = new RotatingAddress(amqpNodes('amqp://h1,h2,h3'));
    const seen: string[] = [];
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 7; attempt++) {
      delays.push(nextNodeDelay(address, attempt, { firstMs: 100, maxMs: 1_000 }));
      seen.push(address.hostname);
    }
    expect(seen).toEqual(['h2', 'h3', 'h1', 'h2', 'h3', 'h1', 'h2']);
    expect(delays.slice(0, 3)).toEqual([100, 100, 100]);
    for (const d of delays.slice(3, 6)) expect(d).toBeGreaterThanOrEqual(160);
    expect(delays[6]).toBeGreaterThanOrEqual(320);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_200);
  });
});

describe('connecting to the next node', () => {
  test('the CLI’s connection skips a node that does not answer', async () => {
    const url = `amqp://${LIVE.username}:${LIVE.password}@127.0.0.1:${await deadPort()},${LIVE.host}`;
    const conn = await connectFirst(url, {});
    try {
      const ch = await conn.createChannel();
      await ch.checkExchange('amq.topic');
    } finally {
      await conn.close();
    }
    // every node dead: the last node's error
    const dead = `amqp://127.0.0.1:${await deadPort()},127.0.0.1:${await deadPort()}`;
    await expect(connectFirst(dead, {})).rejects.toThrow(/ECONNREFUSED/);
  });

  test('amqplib’s recovery, given the rotating address, reaches the live node after a dead one', async () => {
    const address = new RotatingAddress(
      amqpNodes(
        `amqp://${LIVE.username}:${LIVE.password}@127.0.0.1:${await deadPort()},${LIVE.host}`,
      ),
    );
    const tried: string[] = [];
    const conn = await amqp.connect(address, {
      recovery: {
        initialMaxRetries: 4,
        calculateDelay: (attempt) => {
          const d = nextNodeDelay(address, attempt, { firstMs: 50, maxMs: 200 });
          tried.push(address.current.label);
          return d;
        },
      },
    });
    try {
      expect(tried).toEqual([`amqp://${LIVE.host}/`]);
      const ch = await conn.createChannel();
      await ch.checkExchange('amq.topic');
    } finally {
      await conn.close();
    }
  });
});
