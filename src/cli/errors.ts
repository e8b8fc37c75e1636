/**
 * How a command says it failed: `lvsd CMD: message` on stderr for people, and under
 * `--json` the same as JSON on stdout (`{"error": {"command", "message"}}`), so a script
 * that reads stdout gets an answer it can parse whatever happened. The exit code is the
 * caller's, the same either way.
 */
export interface ErrorOutput {
  json?: boolean | undefined;
  write(text: string): void;
  writeError(text: string): void;
}

export function reportError(out: ErrorOutput, command: string, message: string): void {
  if (out.json) out.write(`${JSON.stringify({ error: { command, message } }, null, 2)}\n`);
  else out.writeError(`lvsd ${command}: ${message}\n`);
}
