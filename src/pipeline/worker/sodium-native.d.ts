/** The part of sodium-native (libsodium bindings, no bundled types) the workers use. */
declare module 'sodium-native' {
  const sodium: {
    /** libsodium's crypto_sign_verify_detached; throws when `sig` or `pk` has the wrong length. */
    crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  };
  export default sodium;
}
