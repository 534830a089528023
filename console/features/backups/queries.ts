// GraphQL operations of the Backups pages.

export const BACKUPS = /* GraphQL */ `
  query Backups($filter: BackupFilter, $after: String, $first: Int) {
    backups(filter: $filter, after: $after, first: $first) {
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
    }
  }
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
