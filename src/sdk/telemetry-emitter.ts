import { checkSource, EVENT_TYPES, rfc3339, type CloudEvent, type EventValue } from './cloudevents.js';
import { int, resolveDeliveryOptions, type DeliveryOptions } from './delivery-options.js';
import { MachPayConfigError } from './errors.js';
import { eventTimeMs, FIELD_LIMITS, requireBoolean, requireLatencyMs, requireString, truncate } from './field-checks.js';
import { toInt64, type Int64Input } from './int64.js';
import { agentIdOf } from './keypair.js';
import { NonceClock } from './nonce-clock.js';
import { signAgentRequest, type AgentSigner } from './signing.js';
import { VendorStatsWindow } from './stats-window.js';
import type { DeliveryStats } from './delivery-ledger.js';
import { BatchTransport, unref } from './transport.js';
import { SDK_VERSION } from './version.js';

/** Balances reported in telemetry snapshots (`data.wallet`); every field optional. */
export interface WalletSnapshot {
  solBalanceLamports?: Int64Input | undefined;
  usdcBalanceAtomic?: Int64Input | undefined;
  lowBalanceWarnings?: number | undefined;
}

export interface TelemetryEmitterOptions extends DeliveryOptions {
  /** The agent's key: from generateKeypair()/loadKeypair(), or any {@link AgentSigner} (KMS, hardware wallet). */
  keypair: AgentSigner;
  /** Period of `com.machpay.agent.telemetry.v1` snapshots, in ms. Default 60000. 0: none automatically (not at stop() either). */
  telemetryIntervalMs?: number | undefined;
  /** Reads the wallet for each snapshot. A throw or a timeout leaves `wallet` out of that snapshot. */
  walletProvider?: (() => WalletSnapshot | null | Promise<WalletSnapshot | null>) | undefined;
  /** Time allowed for walletProvider, in ms. Default 2000. */
  walletTimeoutMs?: number | undefined;
  /** CloudEvents `source`. Default `urn:machpay:agent:<agentId>`. */
  source?: string | undefined;
  /** `sdk_version` in snapshots. Default: this SDK's version; a wrapping SDK may put its own. */
  sdkVersion?: string | undefined;
  /** Vendors per snapshot; interactions with further vendors are left out and counted. Default and maximum 1000 (the receiver's limit). */
  maxVendorsPerSnapshot?: number | undefined;
  /** Latencies kept per vendor per period; percentiles are exact up to this many. Default 2048. */
  latencySampleSize?: number | undefined;
}

/** One paid request made by the agent (`com.machpay.agent.interaction.v1`). */
export interface InteractionInput {
  vendorId: string;
  success: boolean;
  /** Whole request latency; rounded to an integer. */
  latencyMs: number;
  /** int64, unique per agent. Default: from a monotonic clock (see NonceClock). */
  nonce?: Int64Input | undefined;
  amountAtomic?: Int64Input | undefined;
  tokenMint?: string | undefined;
  /** Cut to 512 characters; NUL and unpaired surrogates become U+FFFD. */
  requestUrl?: string | undefined;
  requestMethod?: string | undefined;
  /** Cut to 64 characters (cleaned like requestUrl); "" counts as absent. */
  errorType?: string | undefined;
  /** Cut to 2048 characters (cleaned like requestUrl). */
  errorMessage?: string | undefined;
  /** The payment's own signature, kept for audit. */
  signature?: string | undefined;
  /** When it happened. Default: now. */
  time?: Date | number | undefined;
}

export interface TelemetryEmitterStats extends DeliveryStats {
  /** Snapshots queued so far. */
  readonly snapshots: number;
  /** Interactions left out of snapshots because maxVendorsPerSnapshot was reached. */
  readonly vendorOverflow: number;
}

/**
 * The agent-side producer: records each paid interaction as a signed CloudEvent for
 * `POST /v1/agent`, and sends a periodic per-vendor telemetry snapshot.
 *
 * ```ts
 * const emitter = new TelemetryEmitter({ receiverUrl, keypair: generateKeypair() });
 * emitter.start();
 * emitter.recordInteraction({ vendorId: 'weather-api', success: true, latencyMs: 84, amountAtomic: 1000n });
 * const stats = await emitter.stop({ deadlineMs: 5000 });
 * ```
 */
export class TelemetryEmitter {
  /** The base58 public key: `data.agent_id` of every event and the X-MachPay-Agent header. */
  readonly agentId: string;
  private readonly source: string;
  private readonly transport: BatchTransport;
  private readonly window: VendorStatsWindow;
  private readonly nonces = new NonceClock();
  private readonly telemetryIntervalMs: number;
  private readonly walletTimeoutMs: number;
  private readonly walletProvider: TelemetryEmitterOptions['walletProvider'];
  private readonly sdkVersion: string;
  private periodStartSec: number;
  private snapshotTimer: ReturnType<typeof setInterval> | null = null;
  private snapshots = 0;
  private vendorOverflow = 0;

  constructor(options: TelemetryEmitterOptions) {
    const delivery = resolveDeliveryOptions(options);
    const signer = options.keypair;
    if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') {
      throw new MachPayConfigError('keypair', 'must be a keypair or an AgentSigner');
    }
    this.agentId = agentIdOf(signer.publicKey);
    this.source = checkSource(options.source ?? `urn:machpay:agent:${this.agentId}`);
    this.telemetryIntervalMs = int(options.telemetryIntervalMs, 'telemetryIntervalMs', 60_000, 0, 24 * 3_600_000);
    this.walletTimeoutMs = int(options.walletTimeoutMs, 'walletTimeoutMs', 2000, 1, 600_000);
    if (options.walletProvider !== undefined && typeof options.walletProvider !== 'function') {
      throw new MachPayConfigError('walletProvider', 'must be a function');
    }
    this.walletProvider = options.walletProvider;
    this.sdkVersion = options.sdkVersion ?? SDK_VERSION;
    if (typeof this.sdkVersion !== 'string' || this.sdkVersion.length > 32) throw new MachPayConfigError('sdkVersion', 'must be a string of at most 32 characters');
    this.window = new VendorStatsWindow({
      // The receiver takes at most 1000 vendors and 100 error types per vendor in one report.
      maxVendors: int(options.maxVendorsPerSnapshot, 'maxVendorsPerSnapshot', 1000, 1, 1000),
      latencySampleSize: int(options.latencySampleSize, 'latencySampleSize', 2048, 1, 1_000_000),
      maxErrorTypes: 32,
    });
    const agentId = this.agentId;
    this.transport = new BatchTransport(delivery, '/v1/agent', (path, body, nowMs) => signAgentRequest(signer, path, body, nowMs, agentId));
    this.periodStartSec = Math.floor(Date.now() / 1000);
  }

  /** Starts delivery (events recorded earlier are sent now) and periodic snapshots. Idempotent. */
  start(): void {
    if (this.transport.isClosed) return;
    this.transport.start();
    if (this.telemetryIntervalMs > 0 && this.snapshotTimer === null) {
      this.snapshotTimer = setInterval(() => void this.emitTelemetrySnapshot(), this.telemetryIntervalMs);
      unref(this.snapshotTimer);
    }
  }

  /**
   * Queues one interaction and returns its CloudEvent id. Validates synchronously and
   * throws {@link MachPayInputError} naming the field; never waits on the network.
   */
  recordInteraction(input: InteractionInput): string {
    const vendorId = requireString(input.vendorId, 'vendorId', FIELD_LIMITS.id);
    const success = requireBoolean(input.success, 'success');
    const latencyMs = requireLatencyMs(input.latencyMs, 'latencyMs');
    const nonce = input.nonce === undefined ? this.nonces.next() : toInt64(input.nonce, 'nonce');
    const amount = input.amountAtomic === undefined ? null : toInt64(input.amountAtomic, 'amountAtomic', 0n);
    const timeMs = eventTimeMs(input.time, 'time');
    const errorType = input.errorType === undefined ? null : truncate(input.errorType, 'errorType', FIELD_LIMITS.errorType);
    const requestUrl = input.requestUrl === undefined ? null : truncate(input.requestUrl, 'requestUrl', FIELD_LIMITS.requestUrl);
    const errorMessage = input.errorMessage === undefined ? null : truncate(input.errorMessage, 'errorMessage', FIELD_LIMITS.errorMessage);

    const t = this.transport;
    const data: Record<string, EventValue> = { agent_id: this.agentId, vendor_id: vendorId, nonce: t.int64(nonce), success, latency_ms: latencyMs };
    if (amount !== null) data['amount_atomic'] = t.int64(amount);
    if (input.tokenMint !== undefined) data['token_mint'] = requireString(input.tokenMint, 'tokenMint', FIELD_LIMITS.tokenMint);
    if (requestUrl !== null) data['request_url'] = requestUrl;
    if (input.requestMethod !== undefined) data['request_method'] = requireString(input.requestMethod, 'requestMethod', FIELD_LIMITS.requestMethod);
    if (errorType !== null) data['error_type'] = errorType;
    if (errorMessage !== null) data['error_message'] = errorMessage;
    if (input.signature !== undefined) data['signature'] = requireString(input.signature, 'signature', FIELD_LIMITS.signature);

    // The id is derived from the nonce: the same interaction recorded twice is one row.
    const id = `i-${nonce}`;
    const event: CloudEvent = { specversion: '1.0', id, source: this.source, type: EVENT_TYPES.agentInteraction, time: rfc3339(timeMs), data };
    if (t.enqueue(event)) this.window.record(vendorId, success, latencyMs, amount, errorType);
    return id;
  }

  /**
   * Closes the current telemetry period now and queues its snapshot; resolves to the
   * event id (null after stop()). Periods are whole seconds and contiguous: each starts
   * where the previous ended, and lasts at least one second (so period_end, the row's
   * key with agent_id, never repeats; it may be up to 1 s ahead of the clock).
   */
  async emitTelemetrySnapshot(): Promise<string | null> {
    if (this.transport.isClosed) return null;
    const start = this.periodStartSec;
    const end = Math.max(Math.floor(Date.now() / 1000), start + 1);
    this.periodStartSec = end;
    const period = this.window.drain();
    this.vendorOverflow += period.overflowedInteractions;

    const t = this.transport;
    const interactions: Record<string, EventValue> = {};
    for (const [vendorId, s] of period.vendors) {
      interactions[vendorId] = {
        attempts: s.attempts,
        success: s.success,
        failures: s.failures,
        payment_latency_p50: s.latencyP50Ms,
        payment_latency_p99: s.latencyP99Ms,
        spend_atomic: t.int64(s.spendAtomic),
        errors: s.errors,
      };
    }
    const data: Record<string, EventValue> = { agent_id: this.agentId, period_start: start, period_end: end };
    const wallet = await this.readWallet();
    if (wallet !== null) data['wallet'] = wallet;
    data['interactions'] = interactions;
    data['sdk_version'] = this.sdkVersion;

    const id = `t-${end}`;
    const event: CloudEvent = { specversion: '1.0', id, source: this.source, type: EVENT_TYPES.agentTelemetry, time: rfc3339(end * 1000), data };
    if (!t.enqueue(event)) return null;
    this.snapshots++;
    return id;
  }

  /** Sends everything queued now; resolves when nothing is queued or in flight. Requires start(). */
  flush(): Promise<void> {
    return this.transport.flush();
  }

  /**
   * Stops snapshots, queues a last snapshot if the period has interactions, delivers what is
   * queued, and resolves with the final stats within `deadlineMs` (default 5000).
   */
  async stop(options: { deadlineMs?: number | undefined } = {}): Promise<TelemetryEmitterStats> {
    const deadlineMs = int(options.deadlineMs, 'deadlineMs', 5000, 0, 24 * 3_600_000);
    const began = Date.now();
    if (this.snapshotTimer !== null) clearInterval(this.snapshotTimer);
    this.snapshotTimer = null;
    if (this.telemetryIntervalMs > 0 && !this.transport.isClosed && this.window.interactionCount > 0) {
      await this.emitTelemetrySnapshot();
    }
    await this.transport.close(Math.max(0, deadlineMs - (Date.now() - began)));
    return this.stats();
  }

  stats(): TelemetryEmitterStats {
    return Object.freeze({ ...this.transport.stats(), snapshots: this.snapshots, vendorOverflow: this.vendorOverflow });
  }

  private async readWallet(): Promise<Record<string, EventValue> | null> {
    const provider = this.walletProvider;
    if (provider === undefined) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.walletTimeoutMs} ms`)), this.walletTimeoutMs);
      });
      const w = await Promise.race([Promise.resolve().then(provider), timeout]);
      if (w === null) return null;
      const t = this.transport;
      const out: Record<string, EventValue> = {};
      if (w.solBalanceLamports !== undefined) out['sol_balance_lamports'] = t.int64(toInt64(w.solBalanceLamports, 'wallet.solBalanceLamports'));
      if (w.usdcBalanceAtomic !== undefined) out['usdc_balance_atomic'] = t.int64(toInt64(w.usdcBalanceAtomic, 'wallet.usdcBalanceAtomic'));
      if (w.lowBalanceWarnings !== undefined) {
        const n = w.lowBalanceWarnings;
        if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) throw new Error('lowBalanceWarnings must be an integer ≥ 0');
        out['low_balance_warnings'] = n;
      }
      return out;
    } catch (err) {
      this.transport.reportLocal('wallet_provider_failed', err instanceof Error ? err.message : String(err));
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
