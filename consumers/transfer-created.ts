import { transferData } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** transfer.created → createTransfer-4.lua: a planned transfer; no location changes yet. */
export default defineConsumer({
  type: 'transfer.created',
  data: transferData,
  command: (d) => ({ op: 'createTransfer', ...d }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
