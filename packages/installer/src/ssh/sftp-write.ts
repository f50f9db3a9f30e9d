/**
 * Streams a local file or a buffer into a new remote file over SFTP with many writes in flight
 * (as OpenSSH's sftp does: 64 requests), so a 100 MB bundle is limited by the link and the
 * cipher, not by round trips. The file is read chunk by chunk, never whole into memory.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import type { SFTPWrapper } from "ssh2";

export type UploadSource = { readonly kind: "file"; readonly path: string } | { readonly kind: "buffer"; readonly data: Buffer };

export interface SftpWriteOptions {
  /** Bytes per SFTP write request (OpenSSH's sftp: 32 KiB; its sftp-server accepts up to 255 KiB). */
  readonly chunkSize: number;
  /** Write requests in flight. */
  readonly requests: number;
  readonly onProgress?: (sent: number, total: number) => void;
}

/**
 * 16 x 128 KiB: 2 MiB in flight, ssh2's channel window. Measured against a test host (100 MB,
 * bench/ssh-fanout.ts): 32 KiB x 64 moved 54-71 MB/s, 128 KiB x 16 118-123 MB/s, and more in
 * flight than the window (128 KiB x 32, 255 KiB x 16) fell back to 70-93 MB/s.
 */
export const DEFAULT_SFTP_WRITE: SftpWriteOptions = { chunkSize: 128 * 1024, requests: 16 };

export async function sourceSize(source: UploadSource): Promise<number> {
  return source.kind === "buffer" ? source.data.length : (await stat(source.path)).size;
}

/** sha256 of a local file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface SessionState {
  dead: boolean;
  readonly pending: Set<(error: Error) => void>;
}

const sessions = new WeakMap<SFTPWrapper, SessionState>();

/** One watcher per SFTP session: when it ends, every request still waiting fails at once. */
function stateOf(sftp: SFTPWrapper): SessionState {
  let state = sessions.get(sftp);
  if (state === undefined) {
    const created: SessionState = { dead: false, pending: new Set() };
    const die = () => {
      created.dead = true;
      for (const fail of created.pending) fail(new Error("the SFTP session closed (connection lost?)"));
      created.pending.clear();
    };
    sftp.once("end", die).once("close", die);
    sessions.set(sftp, created);
    state = created;
  }
  return state;
}

/**
 * One SFTP request as a promise that also settles when the session dies: ssh2 never calls back
 * requests made after the connection dropped, and a transfer must not hang on them.
 */
export function sftpCall<T = void>(sftp: SFTPWrapper, run: (done: (error: Error | undefined, value: T) => void) => void): Promise<T> {
  const state = stateOf(sftp);
  return new Promise((resolve, reject) => {
    if (state.dead) return reject(new Error("the SFTP session closed (connection lost?)"));
    state.pending.add(reject);
    try {
      run((error, value) => {
        state.pending.delete(reject);
        if (error === undefined || error === null) resolve(value);
        else reject(error);
      });
    } catch (error) {
      state.pending.delete(reject);
      reject(error as Error); // ssh2 throws synchronously once the channel is gone
    }
  });
}

/** Creates `remotePath` (it must not exist; mode 0600 until the caller sets the final one) and fills it. */
export async function sftpWriteNewFile(sftp: SFTPWrapper, remotePath: string, source: UploadSource, options: SftpWriteOptions): Promise<void> {
  const total = await sourceSize(source);
  const handle = await sftpCall<Buffer>(sftp, (done) => sftp.open(remotePath, "wx", { mode: 0o600 }, done));
  const local = source.kind === "file" ? await open(source.path, "r") : undefined;
  try {
    await pipelinedWrite(total, options, async (position, length) => {
      if (source.kind === "buffer") return source.data.subarray(position, position + length);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await (local as NonNullable<typeof local>).read(buffer, 0, length, position);
      if (bytesRead !== length) throw new Error(`${source.path} changed size while it was being uploaded`);
      return buffer;
    }, (chunk, position) => sftpCall(sftp, (done) => sftp.write(handle, chunk, 0, chunk.length, position, done)));
  } finally {
    await local?.close();
    await sftpCall(sftp, (done) => sftp.close(handle, done)).catch(() => undefined);
  }
}

async function pipelinedWrite(
  total: number,
  options: SftpWriteOptions,
  read: (position: number, length: number) => Promise<Buffer>,
  write: (chunk: Buffer, position: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let sent = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < total) {
      const position = next;
      const length = Math.min(options.chunkSize, total - position);
      next += length;
      try {
        await write(await read(position, length), position);
      } catch (error) {
        failure ??= error;
        return;
      }
      sent += length;
      options.onProgress?.(sent, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.requests) }, worker));
  if (failure !== undefined) throw failure;
}
