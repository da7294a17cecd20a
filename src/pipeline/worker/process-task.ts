import sodium from 'sodium-native';
import {
  DEFAULT_EVENT_TIME_LIMITS,
  NO_GROUPS,
  RowBatch,
  RowTally,
  decodeAndEncode,
  gunzipBounded,
  interactionKeyRows,
  newEventTimeWindow,
  setEventTimeWindow,
  type BinaryAttributes,
  type EventContext,
  type EventTimeWindow,
} from '../../codec/index.js';
import { Endpoint, errorBody, REQUEST_ERRORS, type RequestErrorCode } from '../../protocol/index.js';
import { RingBuffer } from '../../ring/index.js';
import { ATTRIBUTE_NAMES, readRecord, type RecordView } from './request-record.js';
import { EVENT_OUTCOMES, REQUEST_ROW_ENDS, type TaskInput, type TaskOutput, type WorkerSettings } from './task.js';

/**
 * The worker's whole job, for many requests at once: verify the agent signature over the
 * bytes as transmitted, then decompress, decode, validate and encode rows. Nothing here
 * throws for bad input; every outcome is a status, a stable code and a rendered body.
 */
export class TaskProcessor {
  private readonly ring: RingBuffer;
  private readonly rows = new RowBatch();
  private readonly ctx: EventContext;
  private readonly window: EventTimeWindow;

  /** `now` is the receiver's clock in ms (tests move it); the event-time window follows it once per task. */
  constructor(
    private readonly settings: WorkerSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = RingBuffer.attach(settings.ring);
    this.window = newEventTimeWindow(settings.eventTimeLimits ?? DEFAULT_EVENT_TIME_LIMITS, now());
    this.ctx = { endpoint: Endpoint.Agent, agentId: null, tenantId: null, maxEvents: settings.maxEvents, timeWindow: this.window };
    if (settings.rollups) this.rows.tally = new RowTally();
  }

  run(task: TaskInput): TaskOutput {
    const n = task.positions.length;
    const out: TaskOutput = {
      statuses: new Array<number>(n),
      bodies: new Array<string>(n),
      codes: new Array<string>(n),
      interactions: EMPTY,
      interactionRows: 0,
      telemetry: EMPTY,
      telemetryRows: 0,
      gateway: EMPTY,
      gatewayRows: 0,
      interactionKeys: EMPTY,
      requestRowEnds: new Uint32Array(n * REQUEST_ROW_ENDS),
      groups: NO_GROUPS,
      eventCounts: new Array<number>(2 * EVENT_OUTCOMES.length).fill(0),
    };
    this.rows.reset();
    // One reading of the clock per task: its requests arrived within milliseconds of each other.
    setEventTimeWindow(this.window, this.now());
    for (let i = 0; i < n; i++) {
      const payload = this.ring.payload(task.positions[i] as number);
      const record = readRecord(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      this.processOne(record, i, out);
      this.noteRowEnds(out.requestRowEnds, i * REQUEST_ROW_ENDS);
    }
    out.interactions = copyOut(this.rows.interactions.bytes());
    out.interactionRows = this.rows.interactions.rows;
    out.interactionKeys = copyOut(interactionKeyRows(this.rows.interactions.bytes(), out.interactionRows));
    out.telemetry = copyOut(this.rows.telemetry.bytes());
    out.telemetryRows = this.rows.telemetry.rows;
    out.gateway = copyOut(this.rows.gateway.bytes());
    out.gatewayRows = this.rows.gateway.rows;
    if (this.rows.tally !== null) out.groups = this.rows.tally.pack();
    return out;
  }

  private noteRowEnds(ends: Uint32Array, at: number): void {
    const { interactions, telemetry, gateway } = this.rows;
    ends[at] = interactions.byteLength;
    ends[at + 1] = interactions.rows;
    ends[at + 2] = telemetry.byteLength;
    ends[at + 3] = telemetry.rows;
    ends[at + 4] = gateway.byteLength;
    ends[at + 5] = gateway.rows;
  }

  private processOne(record: RecordView, i: number, out: TaskOutput): void {
    const isAgent = record.endpoint === Endpoint.Agent;
    if (isAgent && !this.signatureVerifies(record)) return refuse(out, i, 'bad_signature');

    let body: Uint8Array = record.body;
    if (record.gzip) {
      const inflated = gunzipBounded(body, this.settings.maxDecodedBytes);
      if (!inflated.ok) return refuse(out, i, inflated.code, inflated.message);
      body = inflated.body;
    }

    const attributeProblem = record.attributes === null ? null : nonAsciiAttribute(record.attributes);
    if (attributeProblem !== null) {
      return refuse(out, i, 'no_valid_events', 'The event was not valid.', [{ index: 0, id: null, code: 'invalid_event', message: attributeProblem }]);
    }

    this.ctx.endpoint = record.endpoint;
    this.ctx.agentId = isAgent ? record.agentId : null;
    this.ctx.tenantId = isAgent ? null : record.tenantId;
    const result = decodeAndEncode(body, record.kind as never, binaryAttributes(record.attributes), this.ctx, this.rows);
    if (!result.ok) return refuse(out, i, result.code, result.message);

    const base = isAgent ? 0 : EVENT_OUTCOMES.length;
    out.eventCounts[base] = (out.eventCounts[base] as number) + result.accepted;
    for (const r of result.rejected) {
      const k = base + EVENT_OUTCOMES.indexOf(r.code);
      out.eventCounts[k] = (out.eventCounts[k] as number) + 1;
    }
    if (result.accepted === 0) {
      return refuse(out, i, 'no_valid_events', `None of the ${result.rejected.length} events was valid.`, result.rejected);
    }
    out.statuses[i] = 202;
    out.codes[i] = '';
    out.bodies[i] = JSON.stringify({ accepted: result.accepted, rejected: result.rejected });
  }

  /**
   * libsodium, not node:crypto: its verify takes half of OpenSSL's time (native-bench
   * verify-ceiling), reads the raw key and the signed bytes straight from shared memory
   * (no key import, so no key cache), and refuses small-order keys, which no honest signer
   * uses (OpenSSL accepts the identity key's trivial signature for any message: protocol.test.ts).
   */
  private signatureVerifies(record: RecordView): boolean {
    return sodium.crypto_sign_verify_detached(record.signature, record.signed, record.publicKey) === true;
  }
}

const EMPTY = new Uint8Array(0);

/** Structured clone copies a view's whole backing buffer, so hand back exact-size copies. */
function copyOut(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === 0 ? EMPTY : new Uint8Array(bytes);
}

function refuse(
  out: TaskOutput,
  i: number,
  code: RequestErrorCode,
  message?: string,
  rejected?: Parameters<typeof errorBody>[2],
): void {
  out.statuses[i] = REQUEST_ERRORS[code].status;
  out.codes[i] = code;
  out.bodies[i] = errorBody(code, message, rejected);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Binary-mode attributes travel in HTTP headers, which must be printable ASCII (CloudEvents'
 * HTTP binding percent-encodes anything else). The HTTP layer reads other bytes as Latin-1
 * and drops any at the end of a value, so such a value cannot be stored faithfully.
 */
function nonAsciiAttribute(a: string[]): string | null {
  for (let k = 0; k < a.length; k++) {
    if (!PRINTABLE_ASCII.test(a[k] as string)) return `${ATTRIBUTE_NAMES[k] as string}: the ce-${ATTRIBUTE_NAMES[k] as string} header must be printable ASCII (percent-encode other characters)`;
  }
  return null;
}

function binaryAttributes(a: string[] | null): BinaryAttributes | null {
  if (a === null) return null;
  return { specversion: a[0] ?? '', id: a[1] ?? '', source: a[2] ?? '', type: a[3] ?? '', time: a[4] === '' || a[4] === undefined ? null : a[4] };
}
