import { z } from 'zod';
import { DEFAULT_LOCATION } from '../src/domain/types.js';
import { idString, quantity } from '../src/domain/schemas.js';

/** Reusable pieces of event data schemas (unknown extra fields are dropped, not refused). */
export const location = idString.optional().transform((l) => l ?? DEFAULT_LOCATION);

export const line = z.object({ sku: idString, quantity, locationId: location });

export const lines = z
  .array(line)
  .min(1, 'must have at least one line')
  .max(500, 'at most 500 lines');
