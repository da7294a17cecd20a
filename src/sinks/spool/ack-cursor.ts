import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { readFully } from './segment-file.js';
import { CURSOR_BYTES, decodeCursor, encodeCursor } from './record-format.js';

export const CURSOR_FILE_NAME = 'acknowledged';

/**
 * The consumed position: the highest acknowledged id, rewritten in place in one small
 * file (layout in record-format.ts). Written (not synced) on every acknowledgement, so a
 * process crash replays nothing acknowledged; fdatasync'ed before any segment is deleted
 * and on close, so after a power loss only the oldest surviving segment can replay.
 *
 * Callers serialise write/sync (the spool does so on its reader chain): one buffer serves.
 */
export class AckCursor {
  private readonly buffer = new Uint8Array(CURSOR_BYTES);
  private written = 0;
  private synced = 0;

  private constructor(private readonly handle: FileHandle) {}

  /**
   * Opens or creates the cursor file. `ackedId` is 0 when the file is new; `valid` is false
   * when it existed but did not decode (then everything still on disk is replayed).
   */
  static async open(dir: string, dirHandle: FileHandle): Promise<{ cursor: AckCursor; ackedId: number; valid: boolean }> {
    const path = join(dir, CURSOR_FILE_NAME);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      handle = await open(path, 'wx+');
      const cursor = new AckCursor(handle);
      await cursor.write(0);
      await cursor.sync();
      await dirHandle.sync();
      return { cursor, ackedId: 0, valid: true };
    }
    const cursor = new AckCursor(handle);
    const bytes = new Uint8Array(CURSOR_BYTES);
    const got = await readFully(handle, bytes, 0);
    const ackedId = got === CURSOR_BYTES ? decodeCursor(bytes) : null;
    cursor.written = cursor.synced = ackedId ?? 0;
    return { cursor, ackedId: ackedId ?? 0, valid: ackedId !== null };
  }

  get writtenId(): number {
    return this.written;
  }

  async write(ackedId: number): Promise<void> {
    encodeCursor(this.buffer, ackedId);
    const { bytesWritten } = await this.handle.write(this.buffer, 0, CURSOR_BYTES, 0);
    if (bytesWritten !== CURSOR_BYTES) throw new Error(`cursor write was short: ${bytesWritten} of ${CURSOR_BYTES} bytes`);
    this.written = ackedId;
  }

  /** Makes the last write durable; a no-op when nothing was written since the last sync. */
  async sync(): Promise<void> {
    if (this.synced === this.written) return;
    const target = this.written;
    await this.handle.datasync();
    this.synced = target;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
