/** Where commands report: stdout for results, stderr for warnings and errors. */
export interface Output {
  info(line: string): void;
  warn(line: string): void;
}

export function streamOutput(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Output {
  return {
    info: (line) => stdout.write(`${line}\n`),
    warn: (line) => stderr.write(`seal: warning: ${line}\n`),
  };
}
