/**
 * The four body forms of docs/protocol.md §2 → a list of candidate events (still unvalidated).
 */
import { parseJsonBody } from './json-body.js';
import { BodyKind } from './media-type.js';
import { parseMsgpackBatch, tooMany } from './msgpack-body.js';
import { isPlainObject } from './events/plain-object.js';

/** CloudEvents binary mode: the attributes from the ce-* headers; the body is the event's data. */
export interface BinaryAttributes {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time: string | null;
}

export type DecodeEventsResult =
  | { ok: true; events: unknown[] }
  | { ok: false; code: 'invalid_body' | 'too_many_events'; message: string };

export function decodeEvents(body: Uint8Array, kind: BodyKind, binary: BinaryAttributes | null, maxEvents: number): DecodeEventsResult {
  switch (kind) {
    case BodyKind.MsgpackBatch:
      return parseMsgpackBatch(body, maxEvents);
    case BodyKind.JsonBatch: {
      const parsed = parseJsonBody(body);
      if (!parsed.ok) return invalidBody(parsed.message);
      if (!Array.isArray(parsed.value)) return invalidBody('A cloudevents-batch+json body must be a JSON array.');
      if (parsed.value.length > maxEvents) return tooMany(parsed.value.length, maxEvents);
      return { ok: true, events: parsed.value };
    }
    case BodyKind.JsonSingle: {
      const parsed = parseJsonBody(body);
      if (!parsed.ok) return invalidBody(parsed.message);
      if (!isPlainObject(parsed.value)) return invalidBody('A cloudevents+json body must be a JSON object.');
      if (maxEvents < 1) return tooMany(1, maxEvents);
      return { ok: true, events: [parsed.value] };
    }
    case BodyKind.Binary: {
      if (binary === null) return invalidBody('Binary mode needs the ce-specversion, ce-id, ce-source and ce-type headers.');
      const parsed = parseJsonBody(body);
      if (!parsed.ok) return invalidBody(parsed.message);
      if (maxEvents < 1) return tooMany(1, maxEvents);
      // A body that is not an object is this event's `data: must be an object`, not a body error.
      const event = {
        specversion: binary.specversion,
        id: binary.id,
        source: binary.source,
        type: binary.type,
        time: binary.time,
        data: parsed.value,
      };
      return { ok: true, events: [event] };
    }
    default:
      return invalidBody('Unsupported body kind.');
  }
}

function invalidBody(message: string): { ok: false; code: 'invalid_body'; message: string } {
  return { ok: false, code: 'invalid_body', message };
}
