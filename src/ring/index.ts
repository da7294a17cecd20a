/**
 * The shared-memory ring that carries request bodies from the uWS main thread to the
 * worker threads. RING_LAYOUT is exported for readers that cannot import this module.
 */
export { RingBuffer } from './ring-buffer.js';
export { RING_LAYOUT, type RingLayout, POSITION_MASK, RECORD_HEADER_BYTES, CONTROL_BYTES } from './layout.js';
