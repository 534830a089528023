// GraphQL operations of the per-database pages.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const DATABASE_DETAIL = graphql(`
  query DatabaseDetail($serverName: String!, $database: String!, $days: Int) {
    databaseDetail(serverName: $serverName, database: $database, first: 100, days: $days) {
      serverName
      database
      engine
      days
      targetRpoSeconds
      server {
        id
        name
        host
        port
        pitr(database: $database) {
          enabled
          rpoSeconds
          lagSeconds
          recoverableFrom
          recoverableTo
          broken
          brokenReason
        }
      }
      backups {
        totalCount
        nodes {
          id
          status
          trigger
          scheduleName
          createdAt
          startedAt
          durationMs
          storedBytes
          artifacts {
            id
            status
            storageTargetId
            storageTarget {
              name
            }
          }
          copyProblems {
            storageTargetId
            target
            status
          }
        }
      }
      copies {
        storageTargetId
        target
        kind
        stored
        storedBytes
        newestStoredAt
        damaged
        deleted
      }
      drills {
        id
        status
        kind
        pointInTime
        stopAtPosition
        backupId
        serverName
        startedAt
        finishedAt
        restoreMs
        error
      }
      rpo {
        at
        backupId
        gapSeconds
      }
      rto {
        at
        drillId
        restoreMs
        status
      }
      recoverable {
        points
        oldest
        newest
      }
    }
    dashboard {
      databases {
        serverName
        database
        status
        missingCopies {
          target
          status
        }
      }
    }
  }
`);

export const KNOWN_DATABASES = graphql(`
  query KnownDatabases {
    knownDatabases {
      serverName
      database
      serverDeleted
      backups
      lastBackupAt
    }
  }
`);

/** What the per-database page shows. */
export type DatabaseDetail = ResultOf<typeof DATABASE_DETAIL>["databaseDetail"];
