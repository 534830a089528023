// GraphQL operations of the Schedules pages.

export const SCHEDULES = /* GraphQL */ `
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
`;

const RULE_FIELDS = /* GraphQL */ `
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
`;

export const SCHEDULE = /* GraphQL */ `
  query Schedule($id: Int!) {
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
  ${RULE_FIELDS}
`;

export const SCHEDULE_OPTIONS = /* GraphQL */ `
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
`;

export const CRON_PREVIEW = /* GraphQL */ `
  query CronPreview($expression: String!, $timezone: String) {
    cronPreview(expression: $expression, timezone: $timezone, count: 5) {
      valid
      error
      nextRuns
    }
  }
`;

export const CREATE_SCHEDULE = /* GraphQL */ `
  mutation CreateSchedule($input: ScheduleInput!) {
    createSchedule(input: $input) {
      id
      name
    }
  }
`;

export const UPDATE_SCHEDULE = /* GraphQL */ `
  mutation UpdateSchedule($id: Int!, $input: ScheduleInput!) {
    updateSchedule(id: $id, input: $input) {
      id
      name
    }
  }
`;

export const DELETE_SCHEDULE = /* GraphQL */ `
  mutation DeleteSchedule($id: Int!) {
    deleteSchedule(id: $id) {
      id
    }
  }
`;

export const RUN_SCHEDULE = /* GraphQL */ `
  mutation RunSchedule($id: Int!) {
    runSchedule(id: $id) {
      id
      status
    }
  }
`;

export const SET_RETENTION_RULE = /* GraphQL */ `
  mutation SetRetentionRule($input: RetentionRuleInput!) {
    setRetentionRule(input: $input) {
      ...RuleFields
    }
  }
  ${RULE_FIELDS}
`;

export const DELETE_RETENTION_RULE = /* GraphQL */ `
  mutation DeleteRetentionRule($id: Int!) {
    deleteRetentionRule(id: $id) {
      id
    }
  }
`;

export const RETENTION_PREVIEW = /* GraphQL */ `
  query RetentionPreview($scheduleId: Int!, $storageTargetId: Int!) {
    retentionPreview(scheduleId: $scheduleId, storageTargetId: $storageTargetId) {
      evaluatedAt
      deleteCount
      keepCount
      note
      deletions {
        backupId
        serverName
        database
        backupTime
        kind
        reasons
      }
    }
  }
`;
