// GraphQL operations of the Backups pages.

export const BACKUPS = /* GraphQL */ `
  query Backups($filter: BackupFilter, $after: String, $first: Int, $order: BackupOrder) {
    backups(filter: $filter, after: $after, first: $first, order: $order) {
      totalCount
      hasNextPage
      endCursor
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
      }
    }
  }
`;

export const FILTER_OPTIONS = /* GraphQL */ `
  query BackupFilterOptions {
    servers {
      id
      name
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
`;

export const RESTORE_FIELDS = /* GraphQL */ `
  fragment RestoreFields on Restore {
    id
    status
    serverName
    database
    overwrite
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
`;

export const BACKUP = /* GraphQL */ `
  query Backup($id: Int!) {
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
      logTail
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
      }
      restores {
        ...RestoreFields
      }
    }
  }
  ${RESTORE_FIELDS}
`;

export const CANCEL_BACKUP = /* GraphQL */ `
  mutation CancelBackup($id: Int!) {
    cancelBackup(id: $id) {
      id
      status
    }
  }
`;

export const VERIFY_BACKUP = /* GraphQL */ `
  mutation VerifyBackup($id: Int!) {
    verifyBackup(id: $id) {
      id
    }
  }
`;

export const DELETE_BACKUP = /* GraphQL */ `
  mutation DeleteBackup($id: Int!) {
    deleteBackup(id: $id) {
      id
      status
    }
  }
`;

export const RESTORE_TARGETS = /* GraphQL */ `
  query RestoreTargets {
    servers {
      id
      name
      engine
    }
  }
`;

export const RESTORE_BACKUP = /* GraphQL */ `
  mutation RestoreBackup($input: RestoreBackupInput!) {
    restoreBackup(input: $input) {
      ...RestoreFields
    }
  }
  ${RESTORE_FIELDS}
`;

export const RESTORE = /* GraphQL */ `
  query Restore($id: Int!) {
    restore(id: $id) {
      ...RestoreFields
    }
  }
  ${RESTORE_FIELDS}
`;

export const CANCEL_RESTORE = /* GraphQL */ `
  mutation CancelRestore($id: Int!) {
    cancelRestore(id: $id) {
      ...RestoreFields
    }
  }
  ${RESTORE_FIELDS}
`;
