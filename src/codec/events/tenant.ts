/** gateway_telemetry.tenant_id is VARCHAR(64) NOT NULL: the tenant a caller passes must fit, or no gateway row is written. */
import { fitsVarchar, isStorableText } from '../pg-text.js';

export function isValidTenantId(v: string | null): v is string {
  return typeof v === 'string' && v.length > 0 && fitsVarchar(v, 64) && isStorableText(v);
}
