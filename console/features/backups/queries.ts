// GraphQL operations of the Backups pages.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const BACKUPS = graphql(`
  query Backups($filter: BackupFilter, $after: String, $first: Int, $order: BackupOrder) {
    backups(filter: $filter, after: $after, first: $first, order: $order) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        status
        serverName
        database
        scheduleName
        trigger
        createdAt
        startedAt
        finishedAt
        durationMs
        storedBytes
        progressBytes
        error
        warnings
      }
    }
  }
`);

export const FILTER_OPTIONS = graphql(`
  query BackupFilterOptions {
    servers {
      id
      name
      labels {
        key
        value
      }
    }
    schedules {
      id
      name
    }
    storageTargets {
      id
      name
    }
  }
`);

export const RESTORE_FIELDS = graphql(`
  fragment RestoreFields on Restore {
    id
    status
    serverName
    database
    overwrite
    restoreUser
    rewriteDefiners
    targetState
    targetDetail
    scratchDatabase
    requestedBy
    createdAt
    startedAt
    finishedAt
    durationMs
    totalBytes
    progressBytes
    rawBytes
    error
    logTail
  }
`);

export const BACKUP = graphql(
  `
  query Backup($id: ID!) {
    backup(id: $id) {
      id
      status
      serverName
      server {
        id
      }
      serverVersion
      database
      engine
      scheduleName
      trigger
      attempt
      compression
      encryption
      tool
      createdAt
      dueAt
      startedAt
      finishedAt
      durationMs
      rawBytes
      storedBytes
      progressBytes
      sha256
      position
      error
      warnings
      logTail
      copyProblems {
        storageTargetId
        target
        status
        error
      }
      artifacts {
        id
        key
        sizeBytes
        status
        error
        storedAt
        verifiedAt
        verifyResult
        verifyDetail
        storageTargetId
        storageTarget {
          id
          name
          kind
        }
        encryptionKeyIds
      }
      restores {
        ...RestoreFields
      }
    }
    encryptionKeys {
      id
      label
      fingerprint
    }
  }
`,
  [RESTORE_FIELDS],
);

export const CANCEL_BACKUP = graphql(`
  mutation CancelBackup($id: ID!) {
    cancelBackup(id: $id) {
      id
      status
    }
  }
`);

export const REPAIR_BACKUP = graphql(`
  mutation RepairBackup($id: ID!) {
    repairBackup(id: $id) {
      repaired
      failed {
        target
        error
      }
      backup {
        id
        status
      }
    }
  }
`);

export const VERIFY_BACKUP = graphql(`
  mutation VerifyBackup($id: ID!) {
    verifyBackup(id: $id) {
      id
    }
  }
`);

export const DELETE_BACKUP = graphql(`
  mutation DeleteBackup($id: ID!) {
    deleteBackup(id: $id) {
      id
      status
    }
  }
`);

export const RESTORE_TARGETS = graphql(`
  query RestoreTargets {
    servers {
      id
      name
      engine
    }
  }
`);

/** The point-in-time window of the backup's server and database, for "Restore to a point in time". */
export const RESTORE_PITR_WINDOW = graphql(`
  query RestorePitrWindow($id: ID!, $database: String) {
    server(id: $id) {
      id
      pitr(database: $database) {
        enabled
        lagSeconds
        recoverableFrom
        recoverableTo
        broken
        brokenReason
        warning
      }
    }
  }
`);

export const RESTORE_BACKUP = graphql(
  `
  mutation RestoreBackup($input: RestoreBackupInput!) {
    restoreBackup(input: $input) {
      ...RestoreFields
    }
  }
`,
  [RESTORE_FIELDS],
);

export const RESTORE_PREFLIGHT = graphql(`
  query RestorePreflight($input: RestorePreflightInput!) {
    restorePreflight(input: $input) {
      restoringUser
      definers
      objectCount
      canRewriteDefiners
      warnings
      problems {
        kind
        name
        definer
        problem
        solvedByRewrite
      }
    }
  }
`);

/** What a restore pre-flight found. */
export type RestorePreflight = ResultOf<typeof RESTORE_PREFLIGHT>["restorePreflight"];

export const RESTORE = graphql(
  `
  query Restore($id: ID!) {
    restore(id: $id) {
      ...RestoreFields
    }
  }
`,
  [RESTORE_FIELDS],
);

export const CANCEL_RESTORE = graphql(
  `
  mutation CancelRestore($id: ID!) {
    cancelRestore(id: $id) {
      ...RestoreFields
    }
  }
`,
  [RESTORE_FIELDS],
);

/** One row of the backups list. */
export type BackupSummary = ResultOf<typeof BACKUPS>["backups"]["nodes"][number];
/** A restore as every restore view shows it. */
export type Restore = ResultOf<typeof RESTORE_FIELDS>;
/** One backup with its artifacts and restores. */
export type BackupDetail = NonNullable<ResultOf<typeof BACKUP>["backup"]>;
