import { describe, expect, it } from 'vitest';
import { parseRfc3339, type UtcInstant } from '../../src/codec/rfc3339.js';
import { interaction, rejection, rowsOf, run, toJson } from './support.js';

function parse(s: string): UtcInstant | null {
  const out = { seconds: 0, micros: 0 };
  return parseRfc3339(s, out) ? out : null;
}

function epoch(iso: string): number {
  return Date.parse(iso) / 1000;
}

describe('parseRfc3339', () => {
  it('parses Z, offsets, lower-case t/z and fractions', () => {
    expect(parse('2026-01-31T12:00:00Z')).toEqual({ seconds: epoch('2026-01-31T12:00:00Z'), micros: 0 });
    expect(parse('2026-01-31t12:00:00z')).toEqual({ seconds: epoch('2026-01-31T12:00:00Z'), micros: 0 });
    expect(parse('2026-01-31T12:00:00.5Z')).toEqual({ seconds: epoch('2026-01-31T12:00:00Z'), micros: 500000 });
    expect(parse('2026-01-31T12:00:00.123456Z')?.micros).toBe(123456);
    expect(parse('2026-01-31T14:30:00+02:30')).toEqual({ seconds: epoch('2026-01-31T12:00:00Z'), micros: 0 });
    expect(parse('2026-01-31T00:00:00-05:00')?.seconds).toBe(epoch('2026-01-31T05:00:00Z'));
    expect(parse('2026-01-31T12:00:00-00:00')?.seconds).toBe(epoch('2026-01-31T12:00:00Z'));
  });

  it('truncates (never rounds) digits past the microsecond', () => {
    expect(parse('2026-01-31T12:00:00.1234569Z')?.micros).toBe(123456);
    expect(parse('2026-01-31T23:59:59.99999999999999999999999999Z')).toEqual({ seconds: epoch('2026-01-31T23:59:59Z'), micros: 999999 });
  });

  it('validates calendar dates, leap years included', () => {
    expect(parse('2026-02-30T00:00:00Z')).toBeNull();
    expect(parse('2026-02-29T00:00:00Z')).toBeNull();
    expect(parse('2024-02-29T00:00:00Z')).not.toBeNull();
    expect(parse('2000-02-29T00:00:00Z')).not.toBeNull();
    expect(parse('1900-02-29T00:00:00Z')).toBeNull();
    expect(parse('2026-04-31T00:00:00Z')).toBeNull();
    expect(parse('2026-12-31T00:00:00Z')).not.toBeNull();
    expect(parse('2026-13-01T00:00:00Z')).toBeNull();
    expect(parse('2026-00-01T00:00:00Z')).toBeNull();
    expect(parse('2026-01-00T00:00:00Z')).toBeNull();
  });

  it('rolls a leap second into the next minute', () => {
    expect(parse('2016-12-31T23:59:60Z')?.seconds).toBe(epoch('2017-01-01T00:00:00Z'));
    expect(parse('2016-12-31T23:59:61Z')).toBeNull();
  });

  it('bounds years: 0001..9999 in UTC after the offset', () => {
    expect(parse('0001-01-01T00:00:00Z')).not.toBeNull();
    expect(parse('0000-12-31T23:59:59Z')).toBeNull();
    expect(parse('0001-01-01T00:00:00+00:01')).toBeNull(); // year 0 in UTC
    expect(parse('9999-12-31T23:59:59.999999Z')).not.toBeNull();
    expect(parse('9999-12-31T23:59:59-00:01')).toBeNull(); // year 10000 in UTC
    expect(parse('+12026-01-01T00:00:00Z')).toBeNull();
  });

  it.each([
    '',
    '2026-01-31',
    '2026-01-31T12:00:00',
    '2026-01-31 12:00:00Z',
    '2026-01-31T12:00Z',
    '2026-01-31T24:00:00Z',
    '2026-01-31T12:60:00Z',
    '2026-01-31T12:00:00.Z',
    '2026-01-31T12:00:00+0200',
    '2026-01-31T12:00:00+02',
    '2026-01-31T12:00:00+24:00',
    '2026-01-31T12:00:00+02:60',
    '2026-01-31T12:00:00ZZ',
    '2026-1-31T12:00:00Z',
    '２０２６-01-31T12:00:00Z',
    ' 2026-01-31T12:00:00Z',
    '2026-01-31T12:00:00Z ',
    '2026-01-31T12:00:00.' + '1'.repeat(60) + 'Z',
  ])('refuses %j', (s) => {
    expect(parse(s)).toBeNull();
  });
});

describe('event time in rows', () => {
  it('is written in UTC as YYYY-MM-DD HH:MM:SS[.ffffff]+00', () => {
    const cases: [string, string][] = [
      ['2026-01-31T12:00:00Z', '2026-01-31 12:00:00+00'],
      ['2026-01-31T12:00:00.000001Z', '2026-01-31 12:00:00.000001+00'],
      ['2026-01-31T12:00:00.5Z', '2026-01-31 12:00:00.500000+00'],
      ['2026-01-01T01:00:00+14:00', '2025-12-31 11:00:00+00'],
      ['2026-01-31T12:00:00+23:59', '2026-01-30 12:01:00+00'],
      ['0001-01-01T00:00:00Z', '0001-01-01 00:00:00+00'],
      ['9999-12-31T23:59:59.999999Z', '9999-12-31 23:59:59.999999+00'],
      ['1969-07-20T20:17:40Z', '1969-07-20 20:17:40+00'],
    ];
    for (const [time, expected] of cases) {
      const { result, batch } = run(toJson([interaction({}, { time })]));
      expect(result, time).toMatchObject({ accepted: 1 });
      expect(rowsOf(batch, 'agent_interactions')[0]?.time).toBe(expected);
    }
  });

  it('is required and must be RFC 3339', () => {
    const missing = interaction();
    delete missing.time;
    expect(rejection(run(toJson([missing])).result).message).toBe('time: required');
    expect(rejection(run(toJson([interaction({}, { time: '2026-02-30T00:00:00Z' })])).result).message).toMatch(/^time: must be an RFC 3339 date-time/);
    expect(rejection(run(toJson([interaction({}, { time: 1769860800 })])).result).message).toMatch(/^time: must be an RFC 3339/);
  });
});
