/**
 * The position of one change in a tenant's history: its epoch, then its outbox entry id.
 * Within an epoch the outbox stream only grows (its ids are never reused), and every mirrored
 * payload carries the current epoch, so the zero-padded string sorts changes in the order
 * Redis made them.
 */
const ENTRY_ID = /^(\d{1,16})-(\d{1,20})$/;

export function isEntryId(entryId: string): boolean {
  return ENTRY_ID.test(entryId);
}

export function changeSeq(epoch: number, entryId: string): string {
  const m = ENTRY_ID.exec(entryId);
  if (!m) throw new Error(`not a stream entry id: ${JSON.stringify(entryId)}`);
  return String(epoch).padStart(20, '0') + m[1]!.padStart(16, '0') + m[2]!.padStart(20, '0');
}
