/**
 * The API key lives in sessionStorage only: it ends with the tab, is never written to a
 * cookie or local storage, and never appears in a URL (the stream uses a stream token).
 */
const KEY = 'machpay.console.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
