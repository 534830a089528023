import type { Message } from "../message.ts";

/** The non-secret SMTP settings of an EMAIL channel (the password is sealed apart). */
export type SmtpSettings = { host: string; port: number; secure: boolean; username: string | null; from: string; to: string[] };

/** One mail: subject, plain and HTML bodies, inline images referenced as cid:<cid> from the HTML. */
export type Mail = {
  subject: string;
  text: string;
  html: string;
  attachments?: Array<{ filename: string; content: Buffer; contentType: string; cid: string }>;
};

/** TLS options for the SMTP connection (tests pass their own CA). */
export type SmtpTls = { ca?: string | Buffer; rejectUnauthorized?: boolean };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The mail for a message: a facts table, the error in a box, a button to the console. */
export function mailOf(m: Message): Mail {
  const color = { bad: "#d93025", good: "#188038", info: "#1a73e8" }[m.severity];
  const rows = m.fields
    .map(
      (f) =>
        `<tr><th align="left" style="padding:4px 12px 4px 0;vertical-align:top">${esc(f.label)}</th><td style="padding:4px 0;${f.label === "Error" ? "font-family:monospace;white-space:pre-wrap" : ""}">${esc(f.value)}</td></tr>`,
    )
    .join("");
  const button = m.link
    ? `<p><a href="${esc(m.link)}" style="background:${color};color:#fff;padding:8px 14px;border-radius:4px;text-decoration:none">Open in SQLGuard</a></p>`
    : "";
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#202124"><h2 style="color:${color}">${esc(m.title)}</h2><p>${esc(m.text)}</p><table>${rows}</table>${button}<p style="color:#5f6368;font-size:12px">Sent by SQLGuard.</p></body></html>`;
  const text = [m.title, "", m.text, "", ...m.fields.map((f) => `${f.label}: ${f.value}`), ...(m.link ? ["", `Open in SQLGuard: ${m.link}`] : [])].join("\n");
  return { subject: `[SQLGuard] ${m.title}`, text, html };
}

/**
 * Sends one mail through the channel's SMTP server: implicit TLS when `secure` (port 465), else
 * STARTTLS whenever the server offers it (required with a username, so a password never crosses
 * in clear); AUTH with the username and password when given. Throws the SMTP error.
 */
export async function sendMail(settings: SmtpSettings, password: string | null, mail: Mail, options: { timeoutMs: number; tls?: SmtpTls }): Promise<void> {
  // Loaded on the first mail, not at startup (nodemailer is about 10 MB resident).
  const { createTransport } = await import("nodemailer");
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: !settings.secure && settings.username != null,
    auth: settings.username ? { user: settings.username, pass: password ?? "" } : undefined,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    tls: options.tls,
  });
  try {
    await transport.sendMail({ from: settings.from, to: settings.to, subject: mail.subject, text: mail.text, html: mail.html, attachments: mail.attachments });
  } finally {
    transport.close();
  }
}
