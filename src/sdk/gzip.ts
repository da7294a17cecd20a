/**
 * Gzip through the Compression Streams API, global in Node ≥ 18, Deno, Bun, Workers and
 * current browsers. Nothing Node-only is imported, so a browser bundle of the SDK pulls in
 * no node: module; where the API is missing this throws and the transport sends
 * uncompressed bodies from then on.
 */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof CompressionStream !== 'function') throw new TypeError('CompressionStream is not available');
  const stream = new CompressionStream('gzip');
  const writer = stream.writable.getWriter();
  // Not awaited before reading: the readable side must drain concurrently or a large
  // body would fill the stream's queue and the write would never settle.
  const written = writer.write(bytes).then(() => writer.close());
  const compressed = new Uint8Array(await new Response(stream.readable).arrayBuffer());
  await written;
  return compressed;
}
