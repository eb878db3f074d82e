// A real SMTP listener (smtp-server) for the mail tests: what it receives, parsed; it can refuse the
// next messages with a temporary 451, stop (an outage) and come back on the same port.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export class SmtpListener {
  readonly inbox: ParsedMail[] = [];
  /** The next this-many messages are refused with 451 (try again later). */
  failNext = 0;
  /** The port of the last start; start() again without an argument reuses it. */
  port = 0;
  #server: SMTPServer | null = null;
  get running(): boolean { return this.#server !== null; }

  async start(port = this.port): Promise<void> {
    const s = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData: (stream, _session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.failNext > 0) {
            this.failNext--;
            const e = new Error('try again later') as Error & { responseCode: number };
            e.responseCode = 451;
            cb(e);
            return;
          }
          void simpleParser(Buffer.concat(chunks)).then((m) => { this.inbox.push(m); cb(); });
        });
      },
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    this.port = (s.server.address() as AddressInfo).port;
    this.#server = s;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
