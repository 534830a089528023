import type { Message } from "../message.ts";

/** One HTTP request a channel sends: where, the JSON body, extra headers. */
export type ChatRequest = { url: string; body: string; headers: Record<string, string> };

const COLOR = { bad: 0xd93025, good: 0x188038, info: 0x1a73e8 } as const;
const EMOJI = { bad: ":red_circle:", good: ":large_green_circle:", info: ":information_source:" } as const;

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Slack incoming webhook, Block Kit: a header (plain_text, at most 150 characters), a mrkdwn
 * section, the facts as section fields (at most 10, 2000 characters each), a button to the console.
 * `text` is the notification fallback Slack requires beside blocks.
 */
export function slackRequest(url: string, m: Message): ChatRequest {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: cut(m.title, 150), emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: cut(`${EMOJI[m.severity]} ${esc(m.text)}`, 3000) } },
    { type: "section", fields: m.fields.slice(0, 10).map((f) => ({ type: "mrkdwn", text: cut(`*${f.label}*\n${esc(f.value)}`, 2000) })) },
  ];
  if (m.link) blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open in SQLGuard" }, url: m.link }] });
  return { url, body: JSON.stringify({ text: cut(m.title, 3000), blocks }), headers: {} };
}

/**
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is received")
 * webhook: a message with one Adaptive Card 1.4 attachment (TextBlocks, a FactSet, Action.OpenUrl).
 */
export function teamsRequest(url: string, m: Message): ChatRequest {
  const card: Record<string, unknown> = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body: [
      {
        type: "TextBlock",
        text: m.title,
        weight: "Bolder",
        size: "Medium",
        wrap: true,
        color: m.severity === "bad" ? "Attention" : m.severity === "good" ? "Good" : "Default",
      },
      { type: "TextBlock", text: m.text, wrap: true },
      { type: "FactSet", facts: m.fields.map((f) => ({ title: f.label, value: f.value })) },
    ],
  };
  if (m.link) card.actions = [{ type: "Action.OpenUrl", title: "Open in SQLGuard", url: m.link }];
  const body = { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }] };
  return { url, body: JSON.stringify(body), headers: {} };
}

/** Discord webhook: one embed (title 256, description 4096, at most 25 fields of 1024, colour, ISO timestamp). */
export function discordRequest(url: string, m: Message, occurredAt: string): ChatRequest {
  const embed: Record<string, unknown> = {
    title: cut(m.title, 256),
    description: cut(m.text, 4096),
    color: COLOR[m.severity],
    fields: m.fields.slice(0, 25).map((f) => ({ name: cut(f.label, 256), value: cut(f.value, 1024) || "-", inline: f.label !== "Error" })),
    timestamp: occurredAt,
  };
  if (m.link) embed.url = m.link;
  return { url, body: JSON.stringify({ username: "SQLGuard", allowed_mentions: { parse: [] }, embeds: [embed] }), headers: {} };
}

/** Telegram Bot API sendMessage: `<base>/bot<token>/sendMessage` with chat_id and an HTML text (at most 4096). */
export function telegramRequest(base: string, botToken: string, chatId: string, m: Message): ChatRequest {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const lines = [`<b>${esc(m.title)}</b>`, esc(m.text), "", ...m.fields.map((f) => `<b>${esc(f.label)}:</b> ${esc(f.value)}`)];
  if (m.link) lines.push("", `<a href="${esc(m.link)}">Open in SQLGuard</a>`);
  const body = { chat_id: chatId, text: cut(lines.join("\n"), 4096), parse_mode: "HTML", link_preview_options: { is_disabled: true } };
  return { url: `${base.replace(/\/+$/, "")}/bot${botToken}/sendMessage`, body: JSON.stringify(body), headers: {} };
}

/**
 * ntfy JSON publishing: POST to the server's root with the topic in the body (title, message,
 * priority 1-5, tags as emoji short codes, click URL); an access token goes in Authorization.
 * The channel's URL is the topic URL, e.g. https://ntfy.sh/sqlguard-alerts.
 */
export function ntfyRequest(topicUrl: string, token: string | null, m: Message): ChatRequest {
  const u = new URL(topicUrl);
  const parts = u.pathname.split("/").filter(Boolean);
  const topic = parts.pop() ?? "";
  u.pathname = `/${parts.join("/")}`;
  const body: Record<string, unknown> = {
    topic,
    title: m.title,
    message: [m.text, ...m.fields.map((f) => `${f.label}: ${f.value}`)].join("\n"),
    priority: m.severity === "bad" ? 4 : 3,
    tags: [m.severity === "bad" ? "rotating_light" : m.severity === "good" ? "white_check_mark" : "information_source", "sqlguard"],
  };
  if (m.link) body.click = m.link;
  return { url: u.toString(), body: JSON.stringify(body), headers: token ? { authorization: `Bearer ${token}` } : {} };
}
