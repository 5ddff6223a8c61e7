import type { ChannelModel } from 'amqplib';

/** The part of amqplib's connection multiplexer (lib/mux.js) this module relies on. */
interface Mux {
  out: { cork(): void; uncork(): void };
  _readIncoming(): void;
}

/**
 * amqplib's multiplexer moves the frames its channels queued to the socket in one pass per
 * event-loop turn, writing each frame (a publish: method, header and body together) with a
 * socket write of its own, a system call each. Corking the socket for that pass sends them in
 * one `writev`. Returns false, changing nothing, if the connection does not look as expected.
 */
export function batchFrameWrites(model: ChannelModel): boolean {
  const mux = (model as unknown as { connection?: { muxer?: Partial<Mux> } }).connection?.muxer;
  const out = mux?.out;
  const pass = mux?._readIncoming;
  if (!mux || typeof pass !== 'function' || typeof out?.cork !== 'function') return false;
  mux._readIncoming = function readCorked(this: Mux) {
    out.cork();
    try {
      pass.call(this);
    } finally {
      out.uncork();
    }
  };
  return true;
}
