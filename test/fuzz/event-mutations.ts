/**
 * One valid event → one hostile event and what the receiver must do with it: a field gets
 * a hostile value (field-mutants.ts), or the envelope, the agent, the prototype chain, the
 * keys or the event's very shape is attacked. The expectation follows docs/protocol.md §2–§5.
 */
import { DELETE, UNIQUE_LENGTH, personalise, textMutants, type Codec, type Mutant, type MutantValue } from './field-mutants.js';
import type { EventErrorCode, EventExpectation, RowKey } from './fuzz-case.js';
import { Deep, Entries, Ext, IntLiteral, JsonText, MpFloat, RawString, Repeat, cloneValue, isHostileObject, obj, type HostileObject, type HostileValue } from './hostile-value.js';
import { EVENT_TYPES, FIELDS, type CaseIdentity, type ValidEvent } from './event-model.js';
import type { Prng } from './prng.js';

export interface BuiltEvent {
  value: HostileValue;
  expect: EventExpectation;
  /** The body is (or may be) invalid_body because of a value in this event. */
  body?: 'invalid' | 'maybe-invalid';
}

/** Sets (or deletes) `path` in `root`; false when a container on the way is missing. */
function setPath(root: HostileObject, path: readonly string[], value: MutantValue): boolean {
  let node: HostileValue = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isHostileObject(node)) return false;
    node = node[path[i] as string] as HostileValue;
  }
  if (!isHostileObject(node)) return false;
  const last = path[path.length - 1] as string;
  if (value === DELETE) delete node[last];
  else node[last] = value;
  return true;
}

function usable(m: Mutant, codec: Codec): boolean {
  return m.codec === undefined || m.codec === codec;
}

/** The event as built, accepted, with its row. */
export function validEvent(ve: ValidEvent): BuiltEvent {
  return { value: ve.event, expect: { verdict: 'accept', codes: [], id: ve.id, row: ve.row, mutation: 'none' } };
}

interface Applied {
  verdict: Mutant['verdict'];
  codes: EventErrorCode[];
  field?: string;
  mutation: string;
  body?: 'invalid' | 'maybe-invalid';
  /** The row key after the change, or null when no valid row can come from the event. */
  row: RowKey | null;
  /** The id after the change: a string, or null when the event has no string id. */
  id?: string | null;
  /** The row key is an edge value other cases use too: it proves nothing about this event alone. */
  sharedKey?: boolean;
}

const INVALID: EventErrorCode[] = ['invalid_event'];

/** A hostile value for one field of the §5 table (not one already changed: `touched`). */
function mutateField(rng: Prng, ve: ValidEvent, ident: CaseIdentity, codec: Codec, event: HostileObject, touched: Set<string>): Applied | null {
  const specs = FIELDS[ve.kind].filter((f) => !touched.has(f.name));
  if (specs.length === 0) return null;
  const spec = rng.pick(specs);
  touched.add(spec.name);
  let mutants = spec.mutants().filter((m) => usable(m, codec));
  if (spec.key === true) {
    // Edge values that many cases share go only to 'edge' agents; values that must be
    // refused only to 'pool' agents (see CaseIdentity.role).
    mutants = mutants.filter((m) => (ident.role === 'edge' ? m.verdict !== 'reject' && m.stored !== undefined : m.verdict === 'reject'));
  }
  if (mutants.length === 0) return null;
  const m = personalise(rng.pick(mutants), uniquePrefix(ident));
  // Copied: cached values are shared, and a later change may write inside this one.
  if (!setPath(event, spec.path, m.value === DELETE ? DELETE : cloneValue(m.value))) return null;
  let row: RowKey | null = { ...ve.row, columns: { ...ve.row.columns } };
  if (m.verdict === 'reject' && spec.key === true) row = null;
  else if (spec.key === true && m.stored !== undefined && m.stored !== null) {
    const key = ve.rekey?.(spec.name, m.stored);
    row = key === undefined || key === null ? null : { ...row, key };
  }
  if (row !== null && spec.column !== undefined && m.stored !== undefined && m.verdict !== 'reject') {
    row.columns = { ...row.columns, [spec.column]: m.stored };
  }
  return {
    verdict: m.verdict,
    codes: INVALID,
    field: spec.name,
    mutation: `${spec.name}:${m.name}`,
    ...(m.body === undefined ? {} : { body: m.body }),
    row,
    ...(spec.key === true && m.verdict !== 'reject' ? { sharedKey: true } : {}),
  };
}

const UNIQUE_SUFFIX = (ident: CaseIdentity, k: number): string => `${ident.caseIndex.toString(36)}.${k}`;

/** CloudEvents attributes: specversion, id, source, type, time, data. */
function mutateEnvelope(rng: Prng, ve: ValidEvent, ident: CaseIdentity, codec: Codec, event: HostileObject, k: number): Applied | null {
  const attr = rng.pick(['specversion', 'id', 'source', 'type', 'time', 'data'] as const);
  const row = ve.row;
  const gateway = ve.kind === 'gateway';
  const r = (mutation: string, value: MutantValue, codes: EventErrorCode[] = INVALID, field: string = attr): Applied => {
    setPath(event, [attr], value);
    return { verdict: 'reject', codes, field, mutation: `${attr}:${mutation}`, row };
  };
  const e = (mutation: string, value: MutantValue, newRow: RowKey | null = row): Applied => {
    setPath(event, [attr], value);
    return { verdict: 'either', codes: ['invalid_event', 'unknown_type'], field: attr, mutation: `${attr}:${mutation}`, row: newRow };
  };
  const a = (mutation: string, value: MutantValue, newRow: RowKey | null = row): Applied => {
    setPath(event, [attr], value);
    return { verdict: 'accept', codes: [], mutation: `${attr}:${mutation}`, row: newRow };
  };
  const common: (() => Applied)[] = [
    () => r('missing', DELETE, attr === 'type' ? ['invalid_event', 'unknown_type'] : INVALID),
    () => r('null', null, attr === 'type' ? ['invalid_event', 'unknown_type'] : INVALID),
    () => r('number', 42, attr === 'type' ? ['invalid_event', 'unknown_type'] : INVALID),
    () => r('array', [ve.id], attr === 'type' ? ['invalid_event', 'unknown_type'] : INVALID),
  ];
  const specific: Record<typeof attr, (() => Applied)[]> = {
    specversion: [
      () => r('1', '1'),
      () => r('trailing-space', '1.0 '),
      () => r('number-1.0', new JsonText('1.0', new MpFloat(1))),
      () => r('0.3', '0.3'),
      () => r('empty', ''),
      () => r('nul', '1.0\u0000'),
    ],
    id: [
      () => {
        // 128 code points, unique: the longest valid id (and, for gateway events, key).
        const id = `${ve.id}.`.padEnd(128, 'i');
        return a('128-ascii', id, gateway ? { ...row, key: `${row.key.split('|')[0] as string}|${id}` } : row);
      },
      () => {
        const id = [...`${ve.id}.${'😀'.repeat(128)}`].slice(0, 128).join('');
        return a('128-emoji', id, gateway ? { ...row, key: `${row.key.split('|')[0] as string}|${id}` } : row);
      },
      () => r('129-ascii', `${ve.id}.`.padEnd(129, 'i')),
      () => r('empty', ''),
      () => r('object', obj([['id', ve.id]])),
      () => e('nul', `${ve.id}\u0000`, gateway ? null : row),
      // In MessagePack a lone surrogate travels as invalid UTF-8 bytes, which refuse the whole body.
      () => (codec === 'json' ? e('lone-surrogate', `${ve.id}\ud800`, gateway ? null : row) : { ...e('lone-surrogate', `${ve.id}\ud800`, gateway ? null : row), body: 'maybe-invalid' as const }),
    ],
    source: [
      () => {
        const src = `https://gw.fuzz.test/${UNIQUE_SUFFIX(ident, k)}/`.padEnd(256, 'a');
        return a('256-chars', src, gateway ? { ...row, key: `${src}|${ve.id}` } : row);
      },
      () => {
        const src = `urn:fuzz:${UNIQUE_SUFFIX(ident, k)}:%41%7e`;
        return a('urn-percent', src, gateway ? { ...row, key: `${src}|${ve.id}` } : row);
      },
      () => r('257-chars', `https://gw.fuzz.test/${UNIQUE_SUFFIX(ident, k)}/`.padEnd(257, 'a')),
      () => r('empty', ''),
      () => r('space', `https://gw.fuzz.test/${UNIQUE_SUFFIX(ident, k)}/a b`),
      () => r('tab', `/x\t${UNIQUE_SUFFIX(ident, k)}`),
      () => r('bad-percent', `/x/%zz/${UNIQUE_SUFFIX(ident, k)}`),
      () => r('nul', `/x\u0000${UNIQUE_SUFFIX(ident, k)}`),
      () => e('non-ascii', `https://gw.fuzz.test/é/${UNIQUE_SUFFIX(ident, k)}`, gateway ? null : row),
    ],
    type: [
      () => r('other', 'com.example.other', ['unknown_type']),
      () => r('other-endpoint', ident.endpoint === 'agent' ? EVENT_TYPES.gateway : EVENT_TYPES.interaction, ['unknown_type']),
      () => r('upper-case', (EVENT_TYPES[ve.kind] as string).toUpperCase(), ['unknown_type']),
      () => r('trailing-space', `${EVENT_TYPES[ve.kind]} `, ['unknown_type']),
      () => r('v2', (EVENT_TYPES[ve.kind] as string).replace('.v1', '.v2'), ['unknown_type']),
      () => r('empty', '', ['unknown_type', 'invalid_event']),
      () => r('__proto__', '__proto__', ['unknown_type']),
      () => r('nul-suffix', `${EVENT_TYPES[ve.kind]}\u0000`, ['unknown_type', 'invalid_event']),
    ],
    time: [
      () => a('nanoseconds', '2026-01-01T00:00:00.123456789Z'),
      () => a('offset', '2026-01-01T00:00:00+05:30'),
      // Storable, but outside the event-time window of §2 (for telemetry, period_end is checked instead).
      () => (ve.kind === 'telemetry' ? a : r)('epoch', '1970-01-01T00:00:00Z'),
      () => (ve.kind === 'telemetry' ? a : r)('max', '9999-12-31T23:59:59Z'),
      () => a('lower-case-t-z', '2026-01-01t00:00:00z'),
      () => e('leap-second', '2016-12-31T23:59:60Z'),
      () => e('space-separator', '2026-01-01 00:00:00Z'),
      () => e('year-0000', '0000-01-01T00:00:00Z'),
      () => e('offset-over-15h', '2026-01-01T00:00:00+23:59'),
      () => r('not-a-time', 'not a time'),
      () => r('feb-30', '2026-02-30T00:00:00Z'),
      () => r('month-13', '2026-13-01T00:00:00Z'),
      () => r('hour-24', '2026-01-01T24:00:00Z'),
      () => r('no-offset', '2026-01-01T00:00:00'),
      () => r('date-only', '2026-01-01'),
      () => r('year-10000', '10000-01-01T00:00:00Z'),
      () => r('unix-number', 1_700_000_000),
      () => r('empty', ''),
      () => r('long', `2026-01-01T00:00:00.${'1'.repeat(1000)}Z`),
      () => ({ ...r('msgpack-timestamp-ext', new Ext(-1, Uint8Array.of(0x65, 0x9d, 0x0a, 0x00))), body: 'maybe-invalid' as const }),
      () => ({ ...r('invalid-utf8', new RawString(Uint8Array.of(0x32, 0x30, 0xff, 0x36))), body: 'maybe-invalid' as const }),
    ],
    data: [
      () => r('string', 'x'),
      () => ({ ...r('deep-array', new Deep(64, 'array')), body: 'maybe-invalid' as const }),
      () => r('empty-object', obj()),
      () => r('proto-only', obj([['__proto__', obj((ve.event.data as HostileObject) ?? obj())]])),
    ],
  };
  const choices = [...common, ...specific[attr]];
  if (codec === 'json') choices.push(() => ({ ...r('json-syntax-error', new JsonText('"1.0')), body: 'invalid' as const }));
  return rng.pick(choices)();
}

/** data.agent_id on /v1/agent must be the signer (§3); anything else is refused on its own. */
function mutateAgentId(rng: Prng, ve: ValidEvent, ident: CaseIdentity, event: HostileObject): Applied {
  const row = ve.row;
  const options: [string, MutantValue, EventErrorCode[]][] = [
    ['other-agent', ident.otherAgentId, ['agent_mismatch']],
    ['suffix', `${ident.agentId}x`, ['agent_mismatch', 'invalid_event']],
    ['prefix-space', ` ${ident.agentId}`, ['agent_mismatch', 'invalid_event']],
    ['lower-case', ident.agentId.toLowerCase() === ident.agentId ? `${ident.agentId}1` : ident.agentId.toLowerCase(), ['agent_mismatch', 'invalid_event']],
    ['empty', '', ['agent_mismatch', 'invalid_event']],
    ['65-chars', ident.agentId.padEnd(65, '1'), ['agent_mismatch', 'invalid_event']],
    ['number', 42, ['invalid_event', 'agent_mismatch']],
    ['missing', DELETE, ['invalid_event']],
    ['null', null, ['invalid_event']],
    ['object', obj([['toString', ident.agentId]]), ['invalid_event', 'agent_mismatch']],
    ['array', [ident.agentId], ['invalid_event', 'agent_mismatch']],
  ];
  const [name, value, codes] = rng.pick(options);
  setPath(event, ['data', 'agent_id'], value);
  return { verdict: 'reject', codes, field: 'agent_id', mutation: `agent_id:${name}`, row };
}

/** Required fields moved under `__proto__` / `constructor.prototype`: an inheriting reader would see them. */
function smuggleThroughPrototype(rng: Prng, ve: ValidEvent, event: HostileObject, touched: Set<string>): Applied | null {
  const data = event.data;
  if (data === undefined || !isHostileObject(data)) return null;
  const required = ve.kind === 'gateway' ? ['route', 'vendor_id', 'method'] : ve.kind === 'interaction' ? ['vendor_id', 'success', 'latency_ms'] : ['period_start'];
  const field = rng.pick(required);
  touched.add(field);
  const value = data[field] as HostileValue;
  delete data[field];
  const how = rng.pick(['__proto__', 'constructor.prototype', 'both'] as const);
  // Through a string variable: as a literal property name TypeScript means Object's own members.
  const protoKey: string = '__proto__';
  const ctorKey: string = 'constructor';
  if (how !== 'constructor.prototype') data[protoKey] = obj([[field, cloneValue(value)]]);
  if (how !== '__proto__') data[ctorKey] = obj([['prototype', obj([[field, cloneValue(value)]])]]);
  return { verdict: 'reject', codes: INVALID, field, mutation: `prototype-smuggle:${field}:${how}`, row: ve.row };
}

/** Keys that are special to JavaScript objects, with every required field still in place. */
function addHostileKeys(rng: Prng, ve: ValidEvent, event: HostileObject): Applied {
  const target = rng.pick(['event', 'data'] as const);
  const node = target === 'event' ? event : (event.data as HostileObject);
  const key = rng.pick(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', 'isPrototypeOf']);
  const value = rng.pick<HostileValue>([
    obj([['type', 'com.example.polluted'], ['specversion', '0.3'], ['polluted', true]]),
    obj([['prototype', obj([['polluted', true]])]]),
    'x',
    1,
    null,
    [],
  ]);
  if (isHostileObject(node)) node[key] = value;
  // Extension attributes and unknown data fields are ignored by a correct reader; §5 does not
  // say they must be, hence either, but the event must not turn into something else.
  return { verdict: 'either', codes: ['invalid_event'], mutation: `hostile-key:${target}.${key}`, row: ve.row };
}

/** Huge or deep values in a field nobody reads. */
function addHugeExtra(rng: Prng, ve: ValidEvent, event: HostileObject): Applied {
  const data = event.data as HostileObject;
  const choice = rng.pick(['deep-array-10k', 'deep-map-10k', 'array-100k', 'string-200k', 'deep-array-33'] as const);
  const value: HostileValue =
    choice === 'deep-array-10k'
      ? new Deep(10_000, 'array')
      : choice === 'deep-map-10k'
        ? new Deep(10_000, 'map')
        : choice === 'array-100k'
          ? new Repeat(100_000, 0)
          : choice === 'deep-array-33'
            ? new Deep(33, 'array')
            : 'é'.repeat(200_000);
  data.fuzz_extra = value;
  const deep = choice.startsWith('deep');
  return {
    verdict: 'either',
    codes: ['invalid_event'],
    mutation: `extra:${choice}`,
    row: ve.row,
    // A MessagePack reader may bound nesting for the whole body (a JSON one may too).
    ...(deep ? { body: 'maybe-invalid' as const } : {}),
  };
}

/** Duplicate keys in the event or its data (which value wins is the parser's choice). */
function duplicateKey(rng: Prng, ve: ValidEvent, event: HostileObject): { value: HostileValue; applied: Applied } {
  const data = event.data as HostileObject;
  const dupField = ve.kind === 'telemetry' ? 'sdk_version' : 'vendor_id';
  const second = rng.pick<HostileValue>([42, 'v'.repeat(65), 'dup-ok', null]);
  const dataEntries = new Entries([...Object.keys(data).map((k) => [k, data[k] as HostileValue] as const), [dupField, second]]);
  const eventEntries: [HostileValue, HostileValue][] = Object.keys(event).map((k) => [k, k === 'data' ? dataEntries : (event[k] as HostileValue)]);
  if (rng.chance(0.3)) eventEntries.push(['specversion', rng.pick(['1.0', '0.3'])]);
  return {
    value: new Entries(eventEntries),
    applied: { verdict: 'either', codes: ['invalid_event'], mutation: `duplicate-key:${dupField}`, row: ve.row },
  };
}

/** An element of the batch that is not an event object at all. */
function notAnObject(rng: Prng, codec: Codec): { value: HostileValue; applied: Applied } {
  const options: [string, HostileValue][] = [
    ['number', 42],
    ['string', 'event'],
    ['null', null],
    ['true', true],
    ['array', [obj([['specversion', '1.0']])]],
    ['deep-array', new Deep(20, 'array')],
    ['int64-literal', new IntLiteral(2n ** 63n)],
  ];
  if (codec === 'msgpack') options.push(['non-string-keys', new Entries([[1, 'x'], [true, 'y'], [null, 'z']])]);
  const [name, value] = rng.pick(options);
  return { value, applied: { verdict: 'reject', codes: INVALID, mutation: `not-an-object:${name}`, row: null, id: null } };
}

export type MutationClass = 'field' | 'envelope' | 'agent' | 'prototype' | 'hostile-key' | 'huge' | 'duplicate' | 'shape';

/**
 * Mutates `ve` (its event tree is changed in place). `extraMutations` more field changes may
 * stack on the first; the verdict is then reject if any is, accept if all are.
 */
export function mutateEvent(rng: Prng, ve: ValidEvent, ident: CaseIdentity, codec: Codec, k: number, forced?: MutationClass): BuiltEvent {
  const event = ve.event;
  const cls: MutationClass =
    forced ??
    rng.weighted<MutationClass>([
      [60, 'field'],
      [18, 'envelope'],
      [ident.endpoint === 'agent' ? 6 : 0, 'agent'],
      [4, 'prototype'],
      [5, 'hostile-key'],
      [1, 'huge'],
      [3, 'duplicate'],
      [3, 'shape'],
    ]);
  let value: HostileValue = event;
  let applied: Applied[] = [];
  const touched = new Set<string>();
  if (cls === 'duplicate') {
    const d = duplicateKey(rng, ve, event);
    value = d.value;
    applied = [d.applied];
  } else if (cls === 'shape') {
    const d = notAnObject(rng, codec);
    value = d.value;
    applied = [d.applied];
  } else {
    const one = (c: MutationClass): Applied | null => {
      switch (c) {
        case 'field':
          return mutateField(rng, ve, ident, codec, event, touched);
        case 'envelope':
          return mutateEnvelope(rng, ve, ident, codec, event, k);
        case 'agent':
          touched.add('agent_id');
          return mutateAgentId(rng, ve, ident, event);
        case 'prototype':
          return smuggleThroughPrototype(rng, ve, event, touched);
        case 'hostile-key':
          return addHostileKeys(rng, ve, event);
        default:
          return addHugeExtra(rng, ve, event);
      }
    };
    const first = one(cls);
    if (first !== null) applied.push(first);
    // Stacked changes: the first refusal reason wins, whichever the receiver checks first.
    while (rng.chance(0.12) && applied.length < 3) {
      const more = one('field');
      if (more !== null) applied.push(more);
    }
  }
  if (applied.length === 0) return validEvent(ve);
  return { value, ...combine(ve, applied) };
}

function combine(ve: ValidEvent, applied: Applied[]): { expect: EventExpectation; body?: 'invalid' | 'maybe-invalid' } {
  const rejects = applied.filter((a) => a.verdict === 'reject');
  const verdict = rejects.length > 0 ? 'reject' : applied.every((a) => a.verdict === 'accept') ? 'accept' : 'either';
  // Any change that may refuse the event may be the one reported (whichever the receiver checks first).
  const codes = [...new Set(applied.filter((a) => a.verdict !== 'accept').flatMap((a) => a.codes))];
  const field = applied.length === 1 ? rejects[0]?.field : undefined;
  // The key from whichever change moved it (at most one key field is changed), columns from all.
  let row: RowKey | null = applied.some((a) => a.row === null) ? null : { ...ve.row, columns: { ...ve.row.columns } };
  if (row !== null) {
    for (const a of applied) {
      const r = a.row as RowKey;
      if (r.key !== ve.row.key) row.key = r.key;
      row.columns = { ...row.columns, ...r.columns };
    }
  }
  // An invalid event under a key that valid events of other cases share: a row there proves nothing.
  if (verdict === 'reject' && applied.some((a) => a.sharedKey === true)) row = null;
  const idChange = applied.find((a) => a.id !== undefined)?.id;
  const id = idChange !== undefined ? idChange : ve.id;
  const anyId = applied.some((a) => a.mutation.startsWith('id:'));
  const body = applied.some((a) => a.body === 'invalid') ? 'invalid' : applied.some((a) => a.body === 'maybe-invalid') ? 'maybe-invalid' : undefined;
  const expect: EventExpectation = {
    verdict,
    codes: verdict === 'accept' ? [] : codes,
    id,
    ...(anyId ? { anyId } : {}),
    ...(applied.some((a) => a.sharedKey === true) ? { sharedRow: true } : {}),
    mutation: applied.map((a) => a.mutation).join('+'),
    ...(field === undefined ? {} : { field }),
    ...(row === null ? {} : { row }),
  };
  return { expect, ...(body === undefined ? {} : { body }) };
}

/** Exactly UNIQUE_LENGTH characters, unique to the case (for VARCHAR boundary strings). */
export function uniquePrefix(ident: CaseIdentity): string {
  return `u${(ident.caseIndex % 60_000_000).toString(36).padStart(UNIQUE_LENGTH - 1, '0')}`;
}

/** For binary mode: a text mutant for a ce-* header value (no CR, LF or NUL: HTTP forbids them). */
export function headerTextMutants(unique: string): Mutant[] {
  // Control characters other than HTAB are not allowed in a field value at all: the raw
  // HTTP cases send those. Above U+00FF there is no byte to send.
  return textMutants(128, true).map((m) => personalise(m, unique)).filter(
    (m) => typeof m.value === 'string' && m.value !== '' && !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(m.value) && !/[^\u0000-\u00ff]/.test(m.value),
  );
}
