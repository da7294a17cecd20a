/**
 * What one fuzz case is and what docs/protocol.md §6 lets the receiver answer to it.
 * Cases are plain data (no functions) so that a failing one is saved to the corpus as
 * JSON and replayed byte for byte; only the signature and timestamp are made at send time.
 */

export type EndpointName = 'agent' | 'ingest';
export type EventErrorCode = 'invalid_event' | 'unknown_type' | 'agent_mismatch';
export type Table = 'agent_interactions' | 'agent_telemetry' | 'gateway_telemetry';

/** `accepted` stands for a 202; every other outcome is a §6 error code. */
export type Outcome =
  | 'accepted'
  | 'invalid_body'
  | 'no_valid_events'
  | 'missing_signature'
  | 'bad_signature'
  | 'timestamp_out_of_window'
  | 'invalid_api_key'
  | 'body_too_large'
  | 'too_many_events'
  | 'unsupported_media_type'
  | 'unsupported_encoding'
  | 'rate_limited'
  | 'overloaded'
  | 'not_ready'
  | 'not_storable'
  | 'not_found'
  | 'method_not_allowed';

/** The natural key of the row an event would produce (row-ledger.ts), with columns to compare. */
export interface RowKey {
  table: Table;
  key: string;
  /** Column → expected text, checked when the row exists (exact storage of hostile strings). */
  columns?: Record<string, string | null>;
}

export interface EventExpectation {
  /** accept: must be accepted; reject: must be in `rejected`; either: both are within the protocol. */
  verdict: 'accept' | 'reject' | 'either';
  /** Allowed `rejected[].code` when rejected. */
  codes: EventErrorCode[];
  /** For invalid_event: a field name the message must contain (§5 "with the field's name"). */
  field?: string;
  /** The event's id when it is a string: `rejected[].id` must be it or null; null: must be null. */
  id: string | null;
  /** The id was made hostile: any echoed string (or null) is fine. */
  anyId?: boolean;
  /** Where a stored copy would be; absent when no valid row can come from it. */
  row?: RowKey;
  /** The row key is an edge value other cases' valid events share: a row there proves nothing about this one. */
  sharedRow?: boolean;
  /** Other keys it may legitimately be stored under (a repeated header: which copy counts is the server's choice). */
  altRows?: RowKey[];
  /** What was done to it (reports). */
  mutation: string;
}

export interface Expectation {
  /** Outcomes allowed besides the always-allowed 429/503 ones; 'any' = any §6 outcome. */
  outcomes: Outcome[] | 'any';
  /** The events the body decodes to, when it decodes (checked on 202 and no_valid_events). */
  events?: EventExpectation[];
  /** A body-limit violation: the connection may close after (or instead of reading) the 413. */
  mayClose?: boolean;
  /** Content the fuzzer cannot predict (random byte flips): rows go to the opaque agent/tenant, unchecked. */
  opaque?: boolean;
}

/** How the request is authenticated; applied at send time. */
export type Auth =
  | { mode: 'none' }
  | { mode: 'key'; key: 'primary' | 'opaque' | 'revoked' | 'unknown' | 'malformed'; header?: string }
  | {
      mode: 'agent';
      /** 32-byte seed (hex) of the agent whose key signs. */
      seed: string;
      tweak?: AuthTweak;
    };

/** Hostile changes to the §3 headers. Literal header values replace the computed ones. */
export interface AuthTweak {
  drop?: ('agent' | 'timestamp' | 'signature')[];
  agentHeader?: string;
  timestampHeader?: string;
  signatureHeader?: string;
  /** Added to now for the timestamp (signed as sent). */
  skewMs?: number;
  /** The timestamp text that is signed and sent, with `{now}` replaced by now in ms. */
  timestampTemplate?: string;
  /** Sign over this path instead of the request's. */
  signPath?: string;
  /** Sign these bytes (base64) instead of the body. */
  signBody?: string;
  /** Sign with this seed's key while sending `seed`'s agent id. */
  signerSeed?: string;
  /** Flip one bit of the signature. */
  flipSignature?: boolean;
  /** Send the signature header twice (its real value and this one). */
  extraSignatureHeader?: string;
}

export interface HttpCase {
  kind: 'http';
  category: string;
  name: string;
  method: string;
  /** Request target as sent (may differ from the endpoint's path). */
  path: string;
  endpoint: EndpointName;
  /** In order; duplicates allowed. Content-Length is added unless `contentLength` says otherwise. */
  headers: [string, string][];
  /** Body bytes as transmitted, base64 (kept as text so cases are JSON). */
  body: string;
  auth: Auth;
  /** 'auto' (default): the real length; a string: sent as is; null: no Content-Length. */
  contentLength?: 'auto' | string | null;
  expect: Expectation;
}

/** A piece of a raw exchange: bytes as they are, or a complete signed request made at send time. */
export type RawPart =
  | { bytes: string }
  | {
      /** A correctly signed POST /v1/agent of `body` (base64), with `extraHeaders` before the signature headers. */
      signed: { seed: string; body: string; contentType: string; extraHeaders?: [string, string][]; contentLength?: string; rows?: RowKey[] };
    };

/** Header- and framing-level requests over a bare socket (raw-http-cases.ts). */
export interface RawCase {
  kind: 'raw';
  category: string;
  name: string;
  /** Each inner list is joined into one write; writes are `pauseMs` apart. */
  writes: RawPart[][];
  pauseMs?: number;
  /** End our side after writing (for bodies shorter than Content-Length). */
  halfClose?: boolean;
  /** Responses to wait for; 0 when none can be expected (the exchange then ends at its timeout or the close). */
  responses: number;
  timeoutMs: number;
}

export type FuzzCase = HttpCase | RawCase;
