/** Just enough of tar (ustar, pax `path` records, GNU long names) to read an image archive's entries. */
import { readFileSync } from "node:fs";

export class TarError extends Error {}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString();
}

/** Regular files of the archive by path (leading `./` dropped). */
export function readTar(path: string): Map<string, Buffer> {
  const data = readFileSync(path);
  const files = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const stored = header.readUInt32BE(148) === 0 ? 0 : Number.parseInt(field(header, 148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
    if (!Number.isFinite(stored) || stored !== sum) throw new TarError(`not a tar archive (bad header checksum at byte ${offset})`);
    const size = Number.parseInt(field(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix === "" ? field(header, 0, 100) : `${prefix}/${field(header, 0, 100)}`);
    const body = data.subarray(offset + 512, offset + 512 + size);
    if (body.length < size) throw new TarError("truncated tar archive");
    longName = undefined;
    if (type === "x") {
      const record = /\d+ path=([^\n]*)\n/.exec(body.toString());
      if (record !== null) longName = record[1];
    } else if (type === "L") {
      longName = body.toString().replace(/\0+$/, "");
    } else if (type === "0" || type === "\0") {
      files.set(name.replace(/^\.\//, ""), body);
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
