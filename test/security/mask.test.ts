import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors/config-error.js';
import { createLogger } from '../../src/logger.js';
import {
  maskCredentials,
  maskUrl,
  MAX_ERROR_CHARS,
  safeText,
  serializeError,
} from '../../src/secrets.js';

const PW = 'Pw-5e1c9a-not/here';
const ENC = encodeURIComponent(PW);

describe('masking credentials in text', () => {
  test('every URL in a text loses its password, and only that', () => {
    const text = `connect to amqp://app:${ENC}@mq:5672/v failed; redis://:${ENC}@r:6379/0 too; mysql://root@db/x`;
    const masked = maskCredentials(text);
    expect(masked).toBe(
      'connect to amqp://app:***@mq:5672/v failed; redis://:***@r:6379/0 too; mysql://root@db/x',
    );
  });

  test('an unencoded @ in the password does not end the match early', () => {
    expect(maskCredentials('amqps://u:p@ss@host/v')).toBe('amqps://u:***@host/v');
  });

  test('a malformed URL (a config error) is masked too', () => {
    for (const bad of [
      `amqp://u:${PW} x@host`,
      `redis://:${PW}@h@`,
      `mysql:/root:${PW}@db`,
      `u:${PW}@host`,
    ]) {
      expect(maskUrl(bad)).not.toContain(PW);
    }
    expect(maskUrl('amqp://host/vhost')).toBe('amqp://host/vhost');
  });

  test('a cut never leaves part of a password behind', () => {
    const long = `${'x'.repeat(MAX_ERROR_CHARS - 10)} amqp://u:${'s'.repeat(50)}@h`;
    const out = safeText(long);
    expect(out).not.toContain('sssss');
    expect(out.length).toBeLessThan(MAX_ERROR_CHARS + 40);
  });
});

describe('errors as logged', () => {
  test('only name, message, stack, scalar codes and causes are kept', () => {
    const err = Object.assign(new Error(`WRONGPASS for amqp://u:${ENC}@h`), {
      code: 'WRONGPASS',
      command: { name: 'auth', args: ['default', PW] },
      sql: `CREATE USER 'bi'@'%' IDENTIFIED BY '${PW}'`,
      cause: Object.assign(new Error('inner'), { bindings: [PW] }),
    });
    const out = JSON.stringify(serializeError(err));
    expect(out).not.toContain(PW);
    expect(out).not.toContain(ENC);
    expect(out).toContain('WRONGPASS');
    expect(out).toContain('inner');
  });

  test('a logger writes no password, whatever field or error carries it', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger('debug', 'test', sink);
    const url = `amqp://app:${ENC}@mq/v`;
    log.info({ url, nested: { password: PW, detail: `via ${url}` } }, `connecting to ${url}`);
    log.warn({ err: `lost ${url}` }, 'broker error');
    log.error(Object.assign(new Error(`failed: ${url}`), { sql: `... '${PW}'` }));
    log.error({ err: Object.assign(new Error(`x ${url}`), { command: { args: [PW] } }) });
    log.error({ err: new Error('y'.repeat(50_000)) }, 'long');
    const all = lines.join('');
    expect(lines).toHaveLength(5);
    expect(all).not.toContain(PW);
    expect(all).not.toContain(ENC);
    expect(all).toContain('amqp://app:***@mq/v');
    // the long message is cut (message and stack), not written whole
    expect(lines[4]!.length).toBeLessThan(12_000);
  });
});

describe('config errors', () => {
  test('a malformed URL with a password is shown with the password masked', () => {
    for (const [name, value] of [
      ['AMQP_URL', `amqp://app:${PW} @mq:5672`],
      ['AMQP_URL', `amqp:app:${PW}@mq`],
      ['REDIS_URL', `redis://:${ENC}@r:notaport`],
      ['MYSQL_URL', `mysql://root:${ENC}@db/inv?ssl=maybe`],
      ['MYSQL_URL', `postgres://root:${ENC}@db/inv`],
    ] as const) {
      let message = '';
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        message = (e as Error).message;
      }
      expect(message).toContain(name);
      expect(message).not.toContain(PW);
      expect(message).not.toContain(ENC);
    }
  });
});
