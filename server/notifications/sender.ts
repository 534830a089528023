import type { PrismaClient } from "../db/client.ts";
import type { NotificationChannel } from "../db/generated/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { WebhookNetwork } from "./address-guard.ts";
import { discordRequest, ntfyRequest, slackRequest, teamsRequest, telegramRequest, type ChatRequest } from "./channels/chat-formats.ts";
import { mailOf, sendMail, type Mail, type SmtpTls } from "./channels/email.ts";
import { TELEGRAM_API, type ChannelTarget, type NotificationChannelsService } from "./channels.service.ts";
import { deliver, type DeliveryPolicy, type DeliveryResult } from "./delivery.ts";
import type { MessageFacts } from "./events.ts";
import { messageOf } from "./message.ts";
import { buildBody, pingUrl, signature } from "./webhook-payload.ts";

/** The outcome of one delivery, with its row in the delivery log. */
export type SendResult = DeliveryResult & { deliveryId: number };

/** What the sender needs. */
export type SenderDeps = {
  prisma: PrismaClient;
  channels: Pick<NotificationChannelsService, "open">;
  logger: Logger;
  policy: DeliveryPolicy;
  /** SQLGUARD_PUBLIC_URL: messages link to the backup in the console. */
  publicUrl?: string;
  network?: WebhookNetwork;
  /** TLS options for SMTP connections (tests trust their own CA). */
  smtpTls?: SmtpTls;
};

/**
 * Sends one message to one channel in the channel's own shape, with retries, and keeps it in the
 * delivery log (PENDING, then SENT or FAILED with the attempts and the last error). Never throws;
 * logs carry the channel id, name and kind, never its URL, secret or the body.
 */
export class ChannelSender {
  constructor(private readonly deps: SenderDeps) {}

  /** Delivers `facts` (or a prepared mail) to `channel`; `signal` stops retrying at shutdown. */
  async send(
    channel: NotificationChannel,
    facts: MessageFacts,
    options: { ruleId?: number | null; policy?: DeliveryPolicy; mail?: Mail; signal: AbortSignal },
  ): Promise<SendResult> {
    const { prisma } = this.deps;
    const message = messageOf(facts, this.deps.publicUrl);
    const row = await prisma.notificationDelivery.create({
      data: {
        channelId: channel.id,
        ruleId: options.ruleId ?? null,
        event: facts.event,
        serverName: facts.server,
        database: facts.database,
        backupId: facts.backupId,
        summary: message.title.slice(0, 1000),
        facts: facts as object,
      },
    });
    const policy = options.policy ?? this.deps.policy;
    let result: DeliveryResult;
    try {
      const target = this.deps.channels.open(channel);
      result =
        target.kind === "EMAIL"
          ? await this.#mail(target, options.mail ?? mailOf(message), policy, options.signal)
          : await deliver(this.#request(target, facts, message), policy, options.signal, this.deps.network);
    } catch (error) {
      result = { ok: false, attempts: 0, status: null, error: `the channel's secrets cannot be opened: ${(error as Error).message}` };
    }
    await prisma.notificationDelivery.update({
      where: { id: row.id },
      data: { status: result.ok ? "SENT" : "FAILED", attempts: result.attempts, lastError: result.error, finishedAt: new Date() },
    });
    const fields = { channelId: channel.id, channel: channel.name, kind: channel.kind, event: facts.event, attempts: result.attempts, status: result.status };
    if (result.ok) this.deps.logger.info(fields, "notification delivered");
    else this.deps.logger.warn({ ...fields, reason: result.error }, "notification delivery failed");
    return { ...result, deliveryId: row.id };
  }

  /** Records a message held back by a rule's quiet period. */
  async suppressed(channel: NotificationChannel, ruleId: number, facts: MessageFacts, reason: string): Promise<void> {
    await this.deps.prisma.notificationDelivery.create({
      data: {
        channelId: channel.id,
        ruleId,
        event: facts.event,
        serverName: facts.server,
        database: facts.database,
        backupId: facts.backupId,
        summary: messageOf(facts).title.slice(0, 1000),
        facts: facts as object,
        status: "SUPPRESSED",
        lastError: reason,
        finishedAt: new Date(),
      },
    });
  }

  /** The HTTP request of a chat, webhook or ping channel. */
  #request(target: ChannelTarget, facts: MessageFacts, message: ReturnType<typeof messageOf>): ChatRequest {
    const url = target.url ?? "";
    switch (target.kind) {
      case "SLACK":
        return slackRequest(url, message);
      case "TEAMS":
        return teamsRequest(url, message);
      case "DISCORD":
        return discordRequest(url, message, facts.occurredAt);
      case "TELEGRAM":
        return telegramRequest(target.url ?? TELEGRAM_API, target.secret ?? "", target.chatId ?? "", message);
      case "NTFY":
        return ntfyRequest(url, target.secret, message);
      default: {
        // WEBHOOK and HEALTHCHECKS: the signed JSON body of the webhooks.
        const body =
          facts.webhook ?? buildBody({ event: facts.event === "WEEKLY_REPORT" ? "TEST" : facts.event, server: facts.server, database: facts.database });
        const text = JSON.stringify(body);
        const headers: Record<string, string> = { "x-sqlguard-event": String(body.event), "x-sqlguard-delivery": String(body.deliveryId) };
        if (target.secret) headers["x-sqlguard-signature"] = signature(target.secret, text);
        const to = target.kind === "HEALTHCHECKS" ? pingUrl(url, facts.ping ?? "success", facts.backupId ?? 0) : url;
        return { url: to, body: text, headers };
      }
    }
  }

  /** SMTP with retries: a 5xx answer (the server refuses this mail) is final, the rest is retried. */
  async #mail(target: ChannelTarget, mail: Mail, policy: DeliveryPolicy, signal: AbortSignal): Promise<DeliveryResult> {
    let error: string | null = null;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(policy.baseDelayMs * 2 ** (attempt - 2), 300_000), signal);
      if (signal.aborted) return { ok: false, attempts: attempt - 1, status: null, error: "stopped" };
      try {
        await sendMail(target.smtp!, target.secret, mail, { timeoutMs: policy.timeoutMs, tls: this.deps.smtpTls });
        return { ok: true, attempts: attempt, status: null, error: null };
      } catch (caught) {
        const e = caught as { message: string; responseCode?: number };
        error = e.message;
        if (e.responseCode && e.responseCode >= 500 && e.responseCode < 600) return { ok: false, attempts: attempt, status: null, error };
      }
    }
    return { ok: false, attempts: policy.maxAttempts, status: null, error };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
