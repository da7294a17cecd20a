/**
 * The codec: CloudEvents bodies in (JSON batch, JSON single, MessagePack batch, HTTP
 * binary mode; gzip), validated events out as PostgreSQL COPY rows (binary for
 * agent_interactions, text for the other tables). Everything other folders may use is
 * exported here; the other files of this folder are internal.
 */
export { BodyKind, parseContentEncoding, parseContentType } from './media-type.js';
export { gunzipBounded, type GunzipResult } from './gunzip.js';
export { decodeEvents, type BinaryAttributes, type DecodeEventsResult } from './decode-events.js';
export { decodeAndEncode, type BodyResult, type EventContext } from './decode-and-encode.js';
export { CopyTextWriter } from './copy-text-writer.js';
export { COPY_BINARY_HEADER, COPY_BINARY_TRAILER, CopyBinaryWriter } from './copy-binary-writer.js';
export type { RowWriter } from './row-writer.js';
export { COPY_COLUMNS, COPY_FORMATS, RowBatch, type CopyFormat } from './row-batch.js';
export { INTERACTION_KEY_COLUMNS, interactionKeyRows } from './interaction-keys.js';
export { RowTally, NO_GROUPS, unpackGroups, type PackedGroups, type RowGroup } from './row-groups.js';
export { MSGPACK_MAX_DEPTH } from './msgpack-body.js';
export {
  DEFAULT_EVENT_TIME_LIMITS,
  newEventTimeWindow,
  setEventTimeWindow,
  type EventTimeLimits,
  type EventTimeWindow,
} from './events/time-window.js';
export { MAX_ERROR_MESSAGE_LENGTH } from './events/interaction.js';
export { MAX_ERROR_TYPES_PER_VENDOR, MAX_VENDORS_PER_REPORT } from './events/telemetry.js';
