/**
 * A test hook, loaded into a worker process with `node --import`: in the worker thread, parsing
 * a CloudEvents envelope that contains `TEST_CRASH_ON` throws an error nothing handles, from
 * the next turn of the event loop (an unhandled error, not a failed delivery). It stands for
 * a bug that a particular message sets off. Nothing in src/ knows of it.
 */
/* global process, setImmediate */
import { isMainThread } from 'node:worker_threads';

const token = process.env.TEST_CRASH_ON;
if (!isMainThread && token) {
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    if (typeof text === 'string' && text.startsWith('{"specversion"') && text.includes(token))
      setImmediate(() => {
        throw new Error(`test hook: crashing on a message containing ${token}`);
      });
    return parse.call(this, text, reviver);
  };
}
