/**
 * BIRD's control socket (the one birdc uses), spoken directly: a line protocol where each
 * reply line starts with a 4-digit code and '-' while more lines follow or ' ' on the last
 * one; a line that starts with a space continues the previous code. BIRD greets with
 * `0001 BIRD x.y.z ready.`. Codes 0xxx are done, 1xxx-2xxx are data, 8xxx are run-time
 * errors and 9xxx parse errors (BIRD's doc/reply_codes).
 *
 * One connection, commands one at a time in the order asked; a broken connection is
 * opened again by the next command.
 */
import { connect, type Socket } from 'node:net';

export interface ReplyLine {
  code: number;
  text: string;
}

export interface Reply {
  /** The last line's code: 0xxx success, 8xxx / 9xxx error. */
  code: number;
  ok: boolean;
  lines: ReplyLine[];
  /** The last line's text ("Reconfigured", or the error). */
  message: string;
}

export class BirdSocketError extends Error {
  override readonly name = 'BirdSocketError';
}

/** Splits buffered text into reply lines; returns the reply once its last line came. */
export class ReplyParser {
  private partial = '';
  private lines: ReplyLine[] = [];
  private lastCode = 0;

  /** Feeds text; returns complete replies, in order. */
  feed(chunk: string): Reply[] {
    this.partial += chunk;
    const done: Reply[] = [];
    for (let nl = this.partial.indexOf('\n'); nl >= 0; nl = this.partial.indexOf('\n')) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      const reply = this.line(line);
      if (reply) done.push(reply);
    }
    return done;
  }

  private line(line: string): Reply | null {
    const match = /^(\d{4})([ -])(.*)$/.exec(line);
    if (!match) {
      // A continuation of the previous code (" text").
      this.lines.push({ code: this.lastCode, text: line.startsWith(' ') ? line.slice(1) : line });
      return null;
    }
    const code = Number(match[1]);
    this.lastCode = code;
    this.lines.push({ code, text: match[3] as string });
    if (match[2] === '-') return null;
    const lines = this.lines;
    this.lines = [];
    return { code, ok: code < 8000, lines, message: match[3] as string };
  }
}

interface Pending {
  command: string;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

export class BirdSocket {
  private socket: Socket | null = null;
  private opening: Promise<Socket> | null = null;
  private parser = new ReplyParser();
  private waiting: Pending[] = [];
  private greeted: (() => void) | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Sends one command and resolves with its reply (an error reply too: check `ok`). */
  command(command: string): Promise<Reply> {
    if (command.includes('\n')) return Promise.reject(new BirdSocketError('a command is one line'));
    const run = this.chain.then(() => this.send(command));
    this.chain = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private async send(command: string): Promise<Reply> {
    const socket = await this.open();
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new BirdSocketError(`${this.path}: no reply to '${command}' within ${this.timeoutMs} ms`),
        );
      }, this.timeoutMs);
      this.waiting.push({
        command,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      socket.write(`${command}\n`);
    });
  }

  private open(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.opening ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ path: this.path });
      this.parser = new ReplyParser();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new BirdSocketError(`${this.path}: no greeting from BIRD within ${this.timeoutMs} ms`),
        );
      }, this.timeoutMs);
      this.greeted = () => {
        clearTimeout(timer);
        this.socket = socket;
        resolve(socket);
      };
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => this.data(chunk));
      socket.on('error', (err) => {
        clearTimeout(timer);
        const error = new BirdSocketError(`${this.path}: ${err.message} (is BIRD running?)`);
        if (this.socket !== socket) reject(error);
        this.fail(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.socket === socket)
          this.fail(new BirdSocketError(`${this.path}: BIRD closed the connection`));
        else reject(new BirdSocketError(`${this.path}: BIRD closed the connection`));
      });
    }).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private data(chunk: string): void {
    for (const reply of this.parser.feed(chunk)) {
      if (this.greeted) {
        // The first reply is the greeting (0001 ... ready).
        const greeted = this.greeted;
        this.greeted = null;
        greeted();
        continue;
      }
      this.waiting.shift()?.resolve(reply);
    }
  }

  private fail(err: Error): void {
    this.socket?.destroy();
    this.socket = null;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(err);
  }
}
