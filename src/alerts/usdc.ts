/** USDC has 6 decimals: an atomic amount as people read it in a message ("4.2 USDC"), exactly. */
export function formatUsdc(atomic: bigint): string {
  const neg = atomic < 0n;
  const abs = neg ? -atomic : atomic;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole.toString()}${frac === '' ? '' : `.${frac}`} USDC`;
}
