/**
 * TLS to RabbitMQ, Redis and MySQL: a custom CA and a client certificate for each, read from
 * the files named by `<SERVICE>_TLS_CA_FILE`, `_CERT_FILE` and `_KEY_FILE`. Whether a
 * connection uses TLS is said by its URL (`amqps:`, `rediss:`, `mysql://…?ssl=true`), so a
 * caller that has only the URL still connects over TLS, verifying the server against the
 * system's CAs: a missing CA fails the connection, it never falls back to plain text.
 */
import { readFileSync } from 'node:fs';

/** What node's `tls.connect` takes from the files; each absent when its variable is unset. */
export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Each service's TLS material (empty when none of its files is set). */
export interface ServiceTls {
  amqp: TlsFiles;
  redis: TlsFiles;
  mysql: TlsFiles;
}

type Service = 'AMQP' | 'REDIS' | 'MYSQL';
const TLS_FILES = ['CA', 'CERT', 'KEY'] as const;
type TlsVariable = `${Service}_TLS_${(typeof TLS_FILES)[number]}_FILE`;

/** Reads the files named by the variables set (the config has checked they are readable). */
export function readServiceTls(env: Partial<Record<TlsVariable, string>>): ServiceTls {
  const read = (service: Service): TlsFiles => {
    const out: TlsFiles = {};
    for (const f of TLS_FILES) {
      const path = env[`${service}_TLS_${f}_FILE`];
      if (path) out[f.toLowerCase() as keyof TlsFiles] = readFileSync(path);
    }
    return out;
  };
  return { amqp: read('AMQP'), redis: read('REDIS'), mysql: read('MYSQL') };
}

/** Whether a MySQL URL asks for TLS (`?ssl=true`). */
export function mysqlUrlWantsTls(url: string): boolean {
  try {
    return new URL(url).searchParams.get('ssl') === 'true';
  } catch {
    return false;
  }
}

/**
 * amqplib's socket options: handed to `tls.connect` for an `amqps:` URL (and to `net.connect`,
 * which ignores them, for `amqp:`; the config refuses TLS files with an `amqp:` URL).
 */
export const amqpSocketOptions = (tls: TlsFiles = {}): TlsFiles => ({ ...tls });

/**
 * ioredis options: a `rediss:` URL alone turns TLS on with the system's CAs; these add the
 * files. Empty for none, so that a `redis:` URL stays plain.
 */
export const redisTlsOptions = (tls: TlsFiles = {}): { tls?: TlsFiles } =>
  Object.keys(tls).length > 0 ? { tls: { ...tls } } : {};

/**
 * mysql2's `ssl` for a URL with `?ssl=true`: the server's certificate is verified against the
 * CA, and its name against the URL's host (mysql2 checks the chain by default but the name only
 * when asked; it skips the name for a host given as an IP address).
 */
export function mysqlSslOptions(
  url: string,
  tls: TlsFiles = {},
): (TlsFiles & { rejectUnauthorized: true; verifyIdentity: true }) | undefined {
  return mysqlUrlWantsTls(url)
    ? { ...tls, rejectUnauthorized: true, verifyIdentity: true }
    : undefined;
}
