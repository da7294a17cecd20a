/**
 * Gzip behind one function, so the SDK runs wherever it can: the Compression Streams
 * API is global in Node ≥ 18, Deno, Bun, Workers and current browsers; node:zlib is the
 * fallback for a Node without it. The import is dynamic so bundlers for the browser
 * never need node:zlib.
 */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof CompressionStream === 'function') {
    const stream = new CompressionStream('gzip');
    const writer = stream.writable.getWriter();
    // Not awaited before reading: the readable side must drain concurrently or a large
    // body would fill the stream's queue and the write would never settle.
    const written = writer.write(bytes).then(() => writer.close());
    const compressed = new Uint8Array(await new Response(stream.readable).arrayBuffer());
    await written;
    return compressed;
  }
  const zlib = await import('node:zlib');
  return new Promise((resolve, reject) => {
    zlib.gzip(bytes, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength))));
  });
}
