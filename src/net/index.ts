/** Small network helpers shared by the embedded PostgreSQL, tests and benchmarks. */
export { freePort, freePorts } from './free-port.js';
