/**
 * The part of autocannon 9 the benchmarks use (the package ships no types). `Client` also
 * names two internals (`_doRequest`, `requestIterator`) that load.ts wraps to pace and
 * drain requests; they are stable across autocannon 7-9 and checked at run time.
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface RequestParams {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }

    type Context = Record<string, unknown>;

    interface RequestSpec {
      method?: string;
      path?: string;
      setupRequest?: (req: RequestParams, context: Context) => RequestParams | null;
      onResponse?: (status: number, body: string, context: Context, headers: Record<string, string | string[]>) => void;
    }

    interface Client extends EventEmitter {
      destroyed: boolean;
      reqsMade: number;
      _doRequest: (...args: unknown[]) => void;
      requestIterator: { context: Context };
    }

    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      timeout?: number;
      pipelining?: number;
      method?: string;
      requests?: RequestSpec[];
      setupClient?: (client: Client) => void;
      skipAggregateResult?: boolean;
    }

    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9?: number;
    }

    interface Result {
      requests: Histogram;
      latency: Histogram;
      throughput: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      mismatches: number;
      duration: number;
      statusCodeStats: Record<string, { count: number }>;
    }

    interface Instance extends EventEmitter {
      stop(): void;
    }
  }

  function autocannon(opts: autocannon.Options, cb?: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance;

  export default autocannon;
}
