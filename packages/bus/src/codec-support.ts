import type { BusRejectReason, BusRejection } from './record-kind.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A message body as a JSON object of the layout version asked for, its fields all present. */
export type VersionedFields = { readonly ok: true; readonly fields: Record<string, unknown> };

/**
 * The first checks of every decoder of the bus: the bytes are UTF-8 JSON,
 * an object, of layout `version` (`"v"`), with each of `required` present.
 */
export function readVersionedObject(
  data: Uint8Array,
  version: number,
  required: readonly string[],
): VersionedFields | BusRejection {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    return refuse('invalid_json', `not JSON: ${messageOf(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse('not_an_object', 'not a JSON object');
  }
  const fields = value as Record<string, unknown>;
  if (fields.v !== version) {
    return refuse(
      'unknown_version',
      `layout version ${fields.v === undefined ? 'missing' : JSON.stringify(fields.v)}, expected ${version}`,
    );
  }
  const missing = required.find((field) => fields[field] === undefined);
  if (missing !== undefined) return refuse('missing_field', `no ${missing}`);
  return { ok: true, fields };
}

export function refuse(reason: BusRejectReason, message: string): BusRejection {
  return { ok: false, reason, message };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
