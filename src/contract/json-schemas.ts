import { z } from 'zod';
import { consumers } from '../../consumers/index.js';
import {
  ANNOUNCEMENT_DATA,
  ANNOUNCEMENT_TYPES,
  announcementEnvelope,
  dataschemaOf,
  SCHEMA_VERSION,
  type AnnouncementType,
} from '../domain/announcement-schemas.js';
import { cloudEventSchema } from '../domain/schemas.js';
import { CONSUMED_SUMMARY, PUBLISHED_SUMMARY } from './summaries.js';

/**
 * The JSON Schemas (2020-12) of the contract, generated from the zod schemas the worker runs:
 * the consumed side from the input side of the consumers' schemas (what a publisher may send),
 * the published side from the announcements' schemas. Each has a `$id` (a URN, stable wherever
 * the worker runs); a published type's `$id` is the `dataschema` its events carry.
 */

type JsonSchema = Record<string, unknown>;

/** Where the schemas live, relative to the repository root. */
export const SCHEMAS_DIR = 'docs/schemas';

const urn = (name: string): string => `urn:inventory-worker:schema:${name}:${SCHEMA_VERSION}`;

export const CONSUMED_ENVELOPE_ID = urn('cloudevent');
export const PUBLISHED_ENVELOPE_ID = urn('announcement');
export const consumedDataId = (type: string): string => urn(type);
export const publishedDataId = (type: AnnouncementType): string => dataschemaOf(type);

/** Paths of the files, relative to SCHEMAS_DIR. */
export const CONSUMED_ENVELOPE_FILE = 'cloudevent.json';
export const PUBLISHED_ENVELOPE_FILE = 'published/cloudevent.json';
export const consumedDataFile = (type: string): string => `consumed/${type}.json`;
export const publishedDataFile = (type: string): string => `published/${type}.json`;

/** Every consumed type, in the consumers' order. */
export const CONSUMED_TYPES: readonly string[] = [...consumers.keys()];

function toSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  head: { id: string; title: string; description: string },
): JsonSchema {
  const body = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as JsonSchema;
  const { $schema, ...rest } = body;
  return { $schema, $id: head.id, title: head.title, description: head.description, ...rest };
}

/** Every schema file: its path under SCHEMAS_DIR and its content. */
export function contractSchemas(): Map<string, JsonSchema> {
  const files = new Map<string, JsonSchema>();
  files.set(
    CONSUMED_ENVELOPE_FILE,
    toSchema(cloudEventSchema, 'input', {
      id: CONSUMED_ENVELOPE_ID,
      title: 'CloudEvents 1.0 envelope (consumed)',
      description:
        'A message on commerce.events, structured JSON mode. `data` is checked by the schema ' +
        'of its type (consumed/<type>.json); other extension attributes are allowed.',
    }),
  );
  for (const type of CONSUMED_TYPES) {
    files.set(
      consumedDataFile(type),
      toSchema(consumers.get(type)!.data, 'input', {
        id: consumedDataId(type),
        title: `${type} data`,
        description: CONSUMED_SUMMARY[type] ?? '',
      }),
    );
  }
  files.set(
    PUBLISHED_ENVELOPE_FILE,
    toSchema(announcementEnvelope, 'output', {
      id: PUBLISHED_ENVELOPE_ID,
      title: 'CloudEvents 1.0 envelope (published)',
      description:
        'A message on inventory.events, structured JSON mode. `dataschema` names the schema ' +
        'of `data` (published/<type>.json, whose `$id` it is).',
    }),
  );
  for (const type of ANNOUNCEMENT_TYPES) {
    files.set(
      publishedDataFile(type),
      toSchema(ANNOUNCEMENT_DATA[type], 'output', {
        id: publishedDataId(type),
        title: `${type} data`,
        description: PUBLISHED_SUMMARY[type],
      }),
    );
  }
  return files;
}

/**
 * The whole message of one type (envelope and data), referring to the files: what a consumer
 * or a publisher validates. `ref` turns a file path (under SCHEMAS_DIR) into a `$ref`.
 */
export function messageSchema(
  side: 'consumed' | 'published',
  type: string,
  ref: (file: string) => string,
): JsonSchema {
  const consumed = side === 'consumed';
  return {
    allOf: [
      { $ref: ref(consumed ? CONSUMED_ENVELOPE_FILE : PUBLISHED_ENVELOPE_FILE) },
      {
        type: 'object',
        required: ['type', 'data', ...(consumed ? [] : ['dataschema'])],
        properties: {
          type: { const: type },
          ...(consumed ? {} : { dataschema: { const: dataschemaOf(type as AnnouncementType) } }),
          data: {
            $ref: ref(consumed ? consumedDataFile(type) : publishedDataFile(type)),
          },
        },
      },
    ],
  };
}
