import { describe, expect, it } from "vitest";
import { facts } from "../events.ts";
import { messageOf } from "../message.ts";
import { discordRequest, ntfyRequest, slackRequest, teamsRequest, telegramRequest } from "./chat-formats.ts";

const m = messageOf(
  facts({ event: "FAILURE", server: "maria", database: "shop", backupId: 7, error: "Unknown database 'shop'", since: "2026-12-03T08:00:00.000Z", failures: 1 }),
  "https://backups.example.com/",
);

describe("chat payloads", () => {
  it("writes what failed, where, the error and a console link", () => {
    expect(m.title).toBe("Backup of shop on maria failed");
    expect(m.link).toBe("https://backups.example.com/backups/detail/?id=7");
    expect(m.fields).toContainEqual({ label: "Error", value: "Unknown database 'shop'" });
  });

  it("Slack: Block Kit header, section fields and a button, with fallback text", () => {
    const body = JSON.parse(slackRequest("https://hooks.slack.com/x", m).body);
    expect(body.text).toBe(m.title);
    expect(body.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: m.title, emoji: true } });
    expect(body.blocks[2].fields.every((f: { type: string }) => f.type === "mrkdwn")).toBe(true);
    expect(body.blocks[3].elements[0]).toMatchObject({ type: "button", url: m.link });
  });

  it("Teams: one Adaptive Card attachment; Discord: one embed; Telegram: sendMessage; ntfy: JSON publish", () => {
    const teams = JSON.parse(teamsRequest("https://x/wf", m).body);
    expect(teams.type).toBe("message");
    expect(teams.attachments[0].contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(teams.attachments[0].content).toMatchObject({ type: "AdaptiveCard", version: "1.4", actions: [{ type: "Action.OpenUrl", url: m.link }] });
    const discord = JSON.parse(discordRequest("https://discord/x", m, "2026-12-03T08:00:00.000Z").body);
    expect(discord.embeds[0]).toMatchObject({ title: m.title, url: m.link, color: 0xd93025, timestamp: "2026-12-03T08:00:00.000Z" });
    const tg = telegramRequest("http://127.0.0.1:9/", "123:abc", "-100", m);
    expect(tg.url).toBe("http://127.0.0.1:9/bot123:abc/sendMessage");
    expect(JSON.parse(tg.body)).toMatchObject({ chat_id: "-100", parse_mode: "HTML" });
    const ntfy = ntfyRequest("https://ntfy.sh/sqlguard-alerts", "tk", m);
    expect(ntfy.url).toBe("https://ntfy.sh/");
    expect(ntfy.headers.authorization).toBe("Bearer tk");
    expect(JSON.parse(ntfy.body)).toMatchObject({ topic: "sqlguard-alerts", title: m.title, priority: 4, click: m.link });
  });
});
