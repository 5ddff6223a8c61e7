import { transferData } from '../src/domain/schemas.js';
import { defineConsumer } from './consumer.js';

/** transfer.shipped → shipTransfer-4+.lua: source on-hand drops, destination incoming rises. */
export default defineConsumer({
  type: 'transfer.shipped',
  data: transferData,
  command: (d) => ({ op: 'shipTransfer', ...d }),
  orderingKeys: (d) => [`transfer:${d.transferId}`],
});
