/**
 * The SDK's own version, sent as `sdk_version` in telemetry snapshots (docs/protocol.md §5).
 * Kept as a literal rather than read from package.json so the SDK loads unchanged in
 * browsers and edge runtimes; a test checks it matches package.json.
 */
export const SDK_VERSION = '0.1.0';
