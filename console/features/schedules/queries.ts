// GraphQL operations of the Schedules pages.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const SCHEDULES = graphql(`
  query Schedules {
    schedules {
      id
      name
      description
      cronExpression
      timezone
      enabled
      allServers
      nextRunAt
      nextRuns(count: 3)
      servers {
        id
        name
      }
      storageTargets {
        id
        name
      }
    }
  }
`);

const RULE_FIELDS = graphql(`
  fragment RuleFields on RetentionRule {
    id
    scheduleId
    storageTargetId
    storageTarget {
      id
      name
    }
    keepForever
    keepLast
    maxAgeDays
    minKeep
    gfsHourly
    gfsDaily
    gfsWeekly
    gfsMonthly
    gfsYearly
  }
`);

export const SCHEDULE = graphql(
  `
  query Schedule($id: ID!) {
    schedule(id: $id) {
      id
      name
      description
      cronExpression
      timezone
      enabled
      allServers
      missedRunPolicy
      nextRunAt
      nextRuns(count: 5)
      servers {
        id
        name
      }
      storageTargets {
        id
        name
      }
      retentionRules {
        ...RuleFields
      }
    }
  }
`,
  [RULE_FIELDS],
);

export const SCHEDULE_OPTIONS = graphql(`
  query ScheduleOptions {
    servers {
      id
      name
    }
    storageTargets {
      id
      name
      isDefault
    }
  }
`);

export const CRON_PREVIEW = graphql(`
  query CronPreview($expression: String!, $timezone: String) {
    cronPreview(expression: $expression, timezone: $timezone, count: 5) {
      valid
      error
      nextRuns
    }
  }
`);

export const CREATE_SCHEDULE = graphql(`
  mutation CreateSchedule($input: ScheduleInput!) {
    createSchedule(input: $input) {
      id
      name
    }
  }
`);

export const UPDATE_SCHEDULE = graphql(`
  mutation UpdateSchedule($id: ID!, $input: ScheduleInput!) {
    updateSchedule(id: $id, input: $input) {
      id
      name
    }
  }
`);

export const DELETE_SCHEDULE = graphql(`
  mutation DeleteSchedule($id: ID!) {
    deleteSchedule(id: $id) {
      id
    }
  }
`);

export const RUN_SCHEDULE = graphql(`
  mutation RunSchedule($id: ID!) {
    runSchedule(id: $id) {
      id
      status
    }
  }
`);

export const SET_RETENTION_RULE = graphql(
  `
  mutation SetRetentionRule($input: RetentionRuleInput!) {
    setRetentionRule(input: $input) {
      ...RuleFields
    }
  }
`,
  [RULE_FIELDS],
);

export const DELETE_RETENTION_RULE = graphql(`
  mutation DeleteRetentionRule($id: ID!) {
    deleteRetentionRule(id: $id) {
      id
    }
  }
`);

export const RETENTION_PREVIEW = graphql(`
  query RetentionPreview($scheduleId: ID!, $storageTargetId: ID!) {
    retentionPreview(scheduleId: $scheduleId, storageTargetId: $storageTargetId) {
      evaluatedAt
      deleteCount
      keepCount
      note
      decisions {
        backupId
        serverName
        database
        backupTime
        status
        action
        kind
        reasons
      }
    }
  }
`);

/** One schedule of the schedules list. */
export type Schedule = ResultOf<typeof SCHEDULES>["schedules"][number];
/** A retention rule of one schedule and storage target. */
export type RetentionRule = ResultOf<typeof RULE_FIELDS>;
/** One schedule with its retention rules, as the edit page shows it. */
export type ScheduleDetail = NonNullable<ResultOf<typeof SCHEDULE>["schedule"]>;
