/**
 * The RabbitMQ nodes `AMQP_URL` names. A cluster is given as a comma-separated list: full URLs
 * (`amqp://u:p@rabbit-1:5672,amqp://u:p@rabbit-2:5672`), or a full URL followed by `host:port`
 * items that take its scheme, credentials, vhost and parameters
 * (`amqp://u:p@rabbit-1:5672/shop,rabbit-2:5672,rabbit-3`). Every node is reached as one user.
 */

/** One node, parsed once: what amqplib reads from an address object. */
export interface AmqpNode {
  readonly protocol: 'amqp' | 'amqps';
  readonly hostname: string;
  readonly port: number;
  /** decoded, as amqplib decodes a URL's (an address object's are taken as they are) */
  readonly username: string;
  readonly password: string;
  /** the vhost as the URL's path spells it (amqplib unescapes it) */
  readonly vhost: string;
  readonly heartbeat: number | undefined;
  readonly frameMax: number | undefined;
  readonly channelMax: number | undefined;
  /** `amqp://host:port/vhost`, for logs: never the credentials */
  readonly label: string;
}

/** Splits and parses `AMQP_URL`; throws with the item that is not an address. */
export function amqpNodes(value: string): AmqpNode[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const first = items[0];
  if (first === undefined) throw new Error('names no node');
  const base = parseUrl(first, 1);
  const nodes = items.map((item, i) => {
    if (i === 0) return toNode(base);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) {
      const url = parseUrl(item, i + 1);
      if (url.protocol !== base.protocol)
        throw new Error(`node ${i + 1} uses ${url.protocol}, node 1 ${base.protocol}: use one`);
      return toNode(url);
    }
    const url = new URL(base.href);
    const [hostname, port, ...rest] = item.split(':');
    if (!hostname || rest.length > 0 || (port !== undefined && !/^\d{1,5}$/.test(port)))
      throw new Error(`node ${i + 1} is neither a URL nor host:port`);
    url.hostname = hostname;
    url.port = port ?? '';
    return toNode(url);
  });
  // Messages published again are sealed with the connection's user (TENANT_FROM_USER): it
  // must not depend on the node a connection happens to reach.
  const other = nodes.findIndex((n) => n.username !== nodes[0]!.username);
  if (other > 0) throw new Error(`node ${other + 1} names another user than node 1: use one`);
  return nodes;
}

function parseUrl(item: string, position: number): URL {
  let url: URL;
  try {
    url = new URL(item);
  } catch {
    throw new Error(`node ${position} is not a URL`);
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:')
    throw new Error(`node ${position} does not start with amqp:// or amqps://`);
  if (url.hostname === '') throw new Error(`node ${position} names no host`);
  return url;
}

const intParam = (url: URL, name: string): number | undefined => {
  const v = url.searchParams.get(name);
  return v === null || !/^\d+$/.test(v) ? undefined : Number(v);
};

function toNode(url: URL): AmqpNode {
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? (protocol === 'amqp' ? 5672 : 5671) : Number(url.port);
  const guest = url.username === '' && url.password === '';
  const vhost = url.pathname.slice(1);
  return {
    protocol,
    hostname,
    port,
    username: guest ? 'guest' : unescape(url.username),
    password: guest ? 'guest' : unescape(url.password),
    vhost,
    heartbeat: intParam(url, 'heartbeat'),
    frameMax: intParam(url, 'frameMax'),
    channelMax: intParam(url, 'channelMax'),
    label: `${protocol}://${url.host}/${vhost}`,
  };
}
