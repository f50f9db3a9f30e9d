/**
 * The part of ssh2 1.x's API the SSH layer uses, typed by hand: @types/ssh2 pins @types/node 18,
 * whose second copy of Node's globals would clash with ours.
 */
declare module "ssh2" {
  import type { EventEmitter } from "node:events";
  import type { Duplex, Readable } from "node:stream";

  export interface ParsedKey {
    readonly type: string;
    readonly comment: string;
    getPublicSSH(): Buffer;
    isPrivateKey(): boolean;
  }

  export type AuthMethodName = "none" | "password" | "publickey" | "agent" | "keyboard-interactive" | "hostbased";

  export type AuthHandlerResult =
    | false
    | { type: "none"; username: string }
    | { type: "password"; username: string; password: string }
    | { type: "publickey"; username: string; key: Buffer | string; passphrase?: string }
    | { type: "agent"; username: string; agent: string }
    | { type: "keyboard-interactive"; username: string; prompt: KeyboardInteractivePrompt };

  export type KeyboardInteractivePrompt = (
    name: string,
    instructions: string,
    lang: string,
    prompts: readonly { prompt: string; echo: boolean }[],
    finish: (answers: string[]) => void,
  ) => void;

  export interface Algorithms {
    kex?: string[];
    serverHostKey?: string[];
    cipher?: string[];
    hmac?: string[];
    compress?: string[];
  }

  export interface ConnectConfig {
    sock?: Duplex;
    username: string;
    readyTimeout?: number;
    keepaliveInterval?: number;
    keepaliveCountMax?: number;
    algorithms?: Algorithms;
    hostVerifier?: (key: Buffer, verify: (valid: boolean) => void) => void;
    authHandler?: (methodsLeft: AuthMethodName[] | null, partialSuccess: boolean | null, next: (result: AuthHandlerResult) => void) => void;
    debug?: (message: string) => void;
  }

  export interface ExecOptions {
    pty?: boolean;
  }

  export interface ClientChannel extends Duplex {
    readonly stderr: Readable;
    signal(signalName: string): boolean;
    close(): void;
    on(event: "exit", listener: (code: number | null, signal?: string, coreDumped?: boolean, description?: string) => void): this;
    on(event: "close", listener: () => void): this;
    on(event: "data", listener: (chunk: Buffer) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    on(event: string | symbol, listener: (...args: never[]) => void): this;
  }

  export interface FileAttributes {
    mode?: number;
  }

  export interface SFTPWrapper extends EventEmitter {
    open(path: string, flags: string, attributes: FileAttributes, callback: (error: Error | undefined, handle: Buffer) => void): void;
    write(handle: Buffer, buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | undefined) => void): void;
    close(handle: Buffer, callback: (error: Error | undefined) => void): void;
    unlink(path: string, callback: (error: Error | undefined) => void): void;
    realpath(path: string, callback: (error: Error | undefined, absolutePath: string) => void): void;
    end(): void;
  }

  export class Client extends EventEmitter {
    connect(config: ConnectConfig): this;
    exec(command: string, options: ExecOptions, callback: (error: Error | undefined, channel: ClientChannel) => void): this;
    sftp(callback: (error: Error | undefined, sftp: SFTPWrapper) => void): this;
    end(): this;
    destroy(): this;
  }

  export const utils: {
    parseKey(data: Buffer | string, passphrase?: string): ParsedKey | ParsedKey[] | Error;
  };

  const ssh2: { Client: typeof Client; utils: typeof utils };
  export default ssh2;
}
