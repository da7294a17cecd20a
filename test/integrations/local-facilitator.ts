/**
 * An x402 facilitator of the tests' own: no chain is reachable here, so it checks what it
 * can offline (the payment pays the seller the amount asked) and settles with made-up
 * transaction hashes. Payers in `refuse` are turned down as if their wallet were empty.
 */
import type { FacilitatorClient } from '@x402/core/server';
import type { PaymentPayload, PaymentRequirements, SettleResponse, SupportedResponse, VerifyResponse } from '@x402/core/types';

export const TEST_NETWORK = 'eip155:84532';

export class LocalFacilitator implements FacilitatorClient {
  readonly settled: string[] = [];
  private readonly refuse: ReadonlySet<string>;

  constructor(refuse: readonly string[] = []) {
    this.refuse = new Set(refuse.map((a) => a.toLowerCase()));
  }

  verify(payment: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse> {
    const authorization = (payment.payload as { authorization?: { from?: string; to?: string; value?: string } }).authorization;
    const payer = authorization?.from;
    if (payer === undefined || authorization?.to?.toLowerCase() !== requirements.payTo.toLowerCase() || authorization.value !== requirements.amount) {
      return Promise.resolve({ isValid: false, invalidReason: 'invalid_payload', invalidMessage: 'does not pay the seller the amount asked' });
    }
    if (this.refuse.has(payer.toLowerCase())) return Promise.resolve({ isValid: false, invalidReason: 'insufficient_funds', payer });
    return Promise.resolve({ isValid: true, payer });
  }

  async settle(payment: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse> {
    const verified = await this.verify(payment, requirements);
    if (!verified.isValid) return { success: false, errorReason: verified.invalidReason ?? 'invalid', transaction: '', network: requirements.network };
    const transaction = '0x' + (this.settled.length + 1).toString(16).padStart(64, 'a');
    this.settled.push(transaction);
    return { success: true, transaction, network: requirements.network, ...(verified.payer === undefined ? {} : { payer: verified.payer }) };
  }

  getSupported(): Promise<SupportedResponse> {
    return Promise.resolve({ kinds: [{ x402Version: 2, scheme: 'exact', network: TEST_NETWORK }], extensions: [], signers: {} });
  }
}
