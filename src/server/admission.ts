import type { HttpResponse } from 'uWebSockets.js';
import { parseIpAddress, unmapIpv4, type AddressRanges } from '../net/index.js';

/**
 * Bytes held by requests whose credentials are not yet checked, in total and per client
 * address. A request is charged its declared body size (plus a fixed overhead, so that empty
 * or tiny bodies still count) when its headers arrive, and gives it back when it proves who
 * it is, is answered or goes away. The charge is a counter, not a place in the ring: it is
 * given back in any order, so one slow request never holds up another's release.
 *
 * Each address may hold up to `perAddressBytes`. Beyond that it borrows from a shared part
 * of `borrowableBytes`, which all addresses over their own allowance share: one busy producer
 * can use far more than its allowance while the budget is idle, but a few addresses, however
 * slow, cannot take more than their allowances and the shared part, and the rest (at least
 * `totalBytes - borrowableBytes`, less what others hold within their allowances) stays for
 * everyone else.
 */
export class AdmissionBudget {
  private readonly byAddress = new Map<string, number>();
  private held = 0;
  /** Sum over addresses of what each holds beyond perAddressBytes. */
  private borrowed = 0;

  constructor(
    readonly totalBytes: number,
    readonly perAddressBytes: number,
    readonly borrowableBytes = 0,
  ) {}

  /** Bytes a request of `bodyBytes` is charged. */
  static cost(bodyBytes: number): number {
    return bodyBytes + REQUEST_OVERHEAD_BYTES;
  }

  /** Charges `bytes` to `address`; false (nothing charged) when the budget cannot take it. */
  tryHold(address: string, bytes: number): boolean {
    const mine = this.byAddress.get(address) ?? 0;
    if (this.held + bytes > this.totalBytes) return false;
    const more = this.beyondAllowance(mine + bytes) - this.beyondAllowance(mine);
    if (more > 0 && this.borrowed + more > this.borrowableBytes) return false;
    this.byAddress.set(address, mine + bytes);
    this.held += bytes;
    this.borrowed += more;
    return true;
  }

  /** Gives back what tryHold charged. */
  release(address: string, bytes: number): void {
    const mine = this.byAddress.get(address) ?? 0;
    const left = Math.max(0, mine - bytes);
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
    this.held = Math.max(0, this.held - (mine - left));
    this.borrowed = Math.max(0, this.borrowed - (this.beyondAllowance(mine) - this.beyondAllowance(left)));
  }

  get heldBytes(): number {
    return this.held;
  }

  get borrowedBytes(): number {
    return this.borrowed;
  }

  heldBy(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }

  private beyondAllowance(bytes: number): number {
    return bytes > this.perAddressBytes ? bytes - this.perAddressBytes : 0;
  }
}

/** What a request costs beyond its body: its headers, its bookkeeping, its connection. */
export const REQUEST_OVERHEAD_BYTES = 4096;

/**
 * The key a client is counted under: its IPv4 address, or the /64 of its IPv6 address (one
 * host usually holds a whole /64, so finer keys would let it multiply its allowance).
 *
 * The client is the socket's peer, unless that peer is one of `trustedProxies` (behind a load
 * balancer, every request would otherwise count against the balancer's address). Then it is
 * the right-most address of `forwardedFor` (X-Forwarded-For) that is not itself a trusted
 * proxy: entries further left were written by the client and prove nothing. An entry that is
 * not an address stops the walk at the trusted hop before it.
 */
export function clientAddressKey(res: HttpResponse, forwardedFor = '', trustedProxies: AddressRanges | null = null): string {
  let client = unmapIpv4(new Uint8Array(res.getRemoteAddress()));
  if (trustedProxies !== null && forwardedFor !== '' && trustedProxies.contains(client)) {
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIpAddress(hops[i] as string);
      if (hop === null) break;
      client = unmapIpv4(hop);
      if (!trustedProxies.contains(client)) break;
    }
  }
  return addressKey(client);
}

function addressKey(raw: Uint8Array): string {
  if (raw.length === 4) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  return Buffer.from(raw.subarray(0, 8)).toString('hex');
}
