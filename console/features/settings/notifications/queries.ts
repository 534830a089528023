// GraphQL operations of Settings → Notifications (channels, rules, the delivery log).

import { graphql } from "@/lib/graphql-tada";

const CHANNEL_FIELDS = graphql(`
  fragment NotificationChannelFields on NotificationChannel {
    id
    name
    kind
    enabled
    urlSet
    urlHost
    secretSet
    weeklyReport
    smtp {
      host
      port
      secure
      username
      passwordSet
      from
      to
    }
    telegram {
      chatId
      botTokenSet
    }
  }
`);

const RULE_FIELDS = graphql(`
  fragment NotificationRuleFields on NotificationRule {
    id
    channelId
    events
    serverSelector {
      names
      matchLabels {
        key
        value
      }
    }
    scheduleIds
    quietMinutes
    enabled
  }
`);

/** Everything the panel shows, in one round trip: the channels' last status comes from the log. */
export const NOTIFICATIONS = graphql(
  `
  query Notifications {
    notificationChannels {
      ...NotificationChannelFields
    }
    notificationRules {
      ...NotificationRuleFields
    }
    notificationDeliveries(first: 100) {
      totalCount
      nodes {
        id
        channelId
        channel {
          name
        }
        event
        serverName
        database
        summary
        status
        attempts
        lastError
        createdAt
        finishedAt
      }
    }
    schedules {
      id
      name
    }
    servers {
      id
      name
      labels {
        key
        value
      }
    }
  }
`,
  [CHANNEL_FIELDS, RULE_FIELDS],
);

export const CREATE_CHANNEL = graphql(
  `
  mutation CreateNotificationChannel($input: CreateNotificationChannelInput!) {
    createNotificationChannel(input: $input) {
      ...NotificationChannelFields
    }
  }
`,
  [CHANNEL_FIELDS],
);

export const UPDATE_CHANNEL = graphql(
  `
  mutation UpdateNotificationChannel($id: ID!, $input: UpdateNotificationChannelInput!) {
    updateNotificationChannel(id: $id, input: $input) {
      ...NotificationChannelFields
    }
  }
`,
  [CHANNEL_FIELDS],
);

export const DELETE_CHANNEL = graphql(`
  mutation DeleteNotificationChannel($id: ID!) {
    deleteNotificationChannel(id: $id) {
      id
    }
  }
`);

export const TEST_CHANNEL = graphql(`
  mutation TestNotificationChannel($id: ID!) {
    testNotificationChannel(id: $id) {
      ok
      status
      error
    }
  }
`);

export const SEND_WEEKLY_REPORT = graphql(`
  mutation SendWeeklyReport($channelId: ID!) {
    sendWeeklyReport(channelId: $channelId) {
      ok
      status
      error
    }
  }
`);

export const RETRY_DELIVERY = graphql(`
  mutation RetryNotificationDelivery($id: ID!) {
    retryNotificationDelivery(id: $id) {
      ok
      status
      error
    }
  }
`);

export const CREATE_RULE = graphql(
  `
  mutation CreateNotificationRule($input: CreateNotificationRuleInput!) {
    createNotificationRule(input: $input) {
      ...NotificationRuleFields
    }
  }
`,
  [RULE_FIELDS],
);

export const UPDATE_RULE = graphql(
  `
  mutation UpdateNotificationRule($id: ID!, $input: UpdateNotificationRuleInput!) {
    updateNotificationRule(id: $id, input: $input) {
      ...NotificationRuleFields
    }
  }
`,
  [RULE_FIELDS],
);

export const DELETE_RULE = graphql(`
  mutation DeleteNotificationRule($id: ID!) {
    deleteNotificationRule(id: $id) {
      id
    }
  }
`);
