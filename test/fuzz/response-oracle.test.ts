import { describe, expect, it } from 'vitest';
import type { HttpCase } from './fuzz-case.js';
import type { ExchangeResult } from './http-client.js';
import { judgeHttpCase } from './response-oracle.js';

/** The oracle's rule for 503: within the protocol only while PostgreSQL was unavailable. */

const notReady: ExchangeResult = {
  responses: [
    {
      status: 503,
      reason: 'Service Unavailable',
      headers: [
        ['content-type', 'application/json'],
        ['retry-after', '1'],
      ],
      body: Buffer.from('{"error":{"code":"not_ready","message":"PostgreSQL is unavailable."}}'),
    },
  ],
  closed: false,
  timedOut: false,
  extraBytes: 0,
  reused: false,
};

const validBatch: HttpCase = {
  kind: 'http',
  category: 'probe',
  name: 'a valid batch',
  method: 'POST',
  path: '/v1/agent',
  endpoint: 'agent',
  headers: [['content-type', 'application/cloudevents-batch+json']],
  body: '',
  auth: { mode: 'none' },
  expect: { outcomes: ['accepted'] },
};

describe('503 in the fuzz oracle', () => {
  it('is a problem while PostgreSQL was available', () => {
    expect(judgeHttpCase(validBatch, notReady, false).problems).toEqual(['not_ready: 503 while PostgreSQL was available']);
  });

  it('is within the protocol while PostgreSQL was unavailable', () => {
    expect(judgeHttpCase(validBatch, notReady, true).problems).toEqual([]);
  });
});
