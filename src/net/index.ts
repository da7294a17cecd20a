/** Small network helpers shared by the embedded PostgreSQL, the ingest admission, tests and benchmarks. */
export { freePort, freePorts } from './free-port.js';
export { AddressRanges, parseIpAddress, unmapIpv4 } from './ip-address.js';
