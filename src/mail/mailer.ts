// Outgoing mail through SMTP (PROTOCOL.md §0: SMTP_URL, e.g. smtp://user:pass@host:587 or
// smtps://…:465; unset = mail disabled). Delivery is retried with exponential backoff and every
// attempt is logged; a message that still fails after the last attempt is reported to the caller,
// which keeps it scheduled (nothing is dropped silently).
import nodemailer, { type Transporter } from 'nodemailer';

export type Attachment = { filename: string; content: Buffer; contentType?: string | undefined };
export type Message = { to: string; subject: string; html: string; text: string; attachments?: Attachment[] | undefined };
export type MailLog = (level: 'info' | 'warn' | 'error', msg: string, detail?: Record<string, unknown>) => void;

export type MailerOptions = {
  /** SMTP_URL. */
  url: string;
  from?: string | undefined;
  /** Attempts in all (default 5) and the first pause (default 1 s, doubled each time). */
  attempts?: number | undefined;
  backoffMs?: number | undefined;
  log?: MailLog | undefined;
};

export type Delivery = { ok: true; messageId: string; attempts: number } | { ok: false; error: string; attempts: number };

export class Mailer {
  private readonly transport: Transporter;
  private readonly opts: Required<Omit<MailerOptions, 'log'>> & { log: MailLog };
  constructor(opts: MailerOptions) {
    // Short timeouts: a hung server must fail an attempt, not hold it for minutes.
    this.transport = nodemailer.createTransport(opts.url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as never);
    this.opts = { url: opts.url, from: opts.from ?? 'Loyalty Button <reports@localhost>', attempts: opts.attempts ?? 5, backoffMs: opts.backoffMs ?? 1000, log: opts.log ?? (() => {}) };
  }

  async send(m: Message): Promise<Delivery> {
    let error = '';
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      try {
        const info = await this.transport.sendMail({ from: this.opts.from, to: m.to, subject: m.subject, html: m.html, text: m.text, attachments: m.attachments ?? [] });
        this.opts.log('info', 'mail sent', { to: m.to, subject: m.subject, attempt, messageId: info.messageId });
        return { ok: true, messageId: String(info.messageId), attempts: attempt };
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        const last = attempt === this.opts.attempts;
        this.opts.log(last ? 'error' : 'warn', last ? 'mail failed; giving up for now' : 'mail failed; retrying', { to: m.to, attempt, error });
        if (!last) await new Promise((r) => setTimeout(r, this.opts.backoffMs * 2 ** (attempt - 1)));
      }
    }
    return { ok: false, error, attempts: this.opts.attempts };
  }

  close(): void { this.transport.close(); }
}

/** A mailer from SMTP_URL, or null (mail disabled) when it is unset. */
export function mailerFromEnv(env: NodeJS.ProcessEnv = process.env, log?: MailLog, retry: Pick<MailerOptions, 'attempts' | 'backoffMs'> = {}): Mailer | null {
  const url = env['SMTP_URL'];
  if (!url) { log?.('info', 'SMTP_URL is not set: email reports are disabled'); return null; }
  return new Mailer({ ...retry, url, from: env['SMTP_FROM'] || undefined, log });
}
