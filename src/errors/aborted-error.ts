/** A long run (a reconciliation) stopped between two pages because it was asked to. */
export class AbortedError extends Error {
  override name = 'AbortedError';
}
