// GraphQL operations of the Servers page.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const SERVER_FIELDS = graphql(`
  fragment ServerFields on Server {
    id
    name
    engine
    host
    port
    username
    passwordSet
    tls
    allowPublicKeyRetrieval
    enabled
    includeDatabases
    excludeDatabases
    maxConcurrent
    dumpOptionsId
    pitr {
      enabled
      rpoSeconds
      storageTargetIds
      lagSeconds
      recoverableFrom
      recoverableTo
      broken
      brokenReason
      warning
    }
  }
`);

export const SERVERS = graphql(
  `
  query Servers {
    servers {
      ...ServerFields
    }
    storageTargets {
      id
      name
      isDefault
      enabled
    }
    dumpOptionsProfiles {
      id
      name
    }
  }
`,
  [SERVER_FIELDS],
);

export const CREATE_SERVER = graphql(
  `
  mutation CreateServer($input: ServerInput!) {
    createServer(input: $input) {
      ...ServerFields
    }
  }
`,
  [SERVER_FIELDS],
);

export const UPDATE_SERVER = graphql(
  `
  mutation UpdateServer($id: ID!, $input: ServerUpdateInput!) {
    updateServer(id: $id, input: $input) {
      ...ServerFields
    }
  }
`,
  [SERVER_FIELDS],
);

export const DELETE_SERVER = graphql(`
  mutation DeleteServer($id: ID!) {
    deleteServer(id: $id) {
      id
    }
  }
`);

export const TEST_SERVER = graphql(`
  mutation TestServerConnection($id: ID!) {
    testServerConnection(id: $id) {
      ok
      version
      databases
      allDatabases
      dumpTool
      warnings
      errorKind
      error
      parallel {
        ready
        tool
        threads
        problems
        locks
      }
    }
  }
`);

export const RUN_BACKUP = graphql(`
  mutation RunBackup($input: RunBackupInput!) {
    runBackup(input: $input) {
      id
      database
      status
    }
  }
`);

/** "Test connection" from the create / edit form: what the form holds, unsaved (over the saved server when editing). */
export const TEST_SERVER_DRAFT = graphql(`
  mutation TestServerDraft($id: ID, $input: ServerUpdateInput!) {
    testServerConnection(id: $id, input: $input) {
      ok
      version
      databases
      allDatabases
      dumpTool
      warnings
      errorKind
      error
      parallel {
        ready
        tool
        threads
        problems
        locks
      }
    }
  }
`);

/** The result of a connection test. */
export type ConnectionTest = ResultOf<typeof TEST_SERVER>["testServerConnection"];

export const DUMP_OPTIONS_FIELDS = graphql(`
  fragment DumpOptionsFields on DumpOptions {
    id
    name
    description
    singleTransaction
    quick
    routines
    triggers
    events
    hexBlob
    setGtidPurged
    columnStatistics
    pgFormat
    noOwner
    noPrivileges
    mysqlExtraFlags
    pgExtraFlags
    compression
    compressionLevel
    engine
    threads
    chunkRows
    encryption
  }
`);

export const DUMP_OPTIONS_PROFILES = graphql(
  `
  query DumpOptionsProfiles {
    dumpOptionsProfiles {
      ...DumpOptionsFields
    }
  }
`,
  [DUMP_OPTIONS_FIELDS],
);

export const CREATE_DUMP_OPTIONS = graphql(
  `
  mutation CreateDumpOptions($input: DumpOptionsInput!) {
    createDumpOptions(input: $input) {
      ...DumpOptionsFields
    }
  }
`,
  [DUMP_OPTIONS_FIELDS],
);

export const UPDATE_DUMP_OPTIONS = graphql(
  `
  mutation UpdateDumpOptions($id: ID!, $input: DumpOptionsInput!) {
    updateDumpOptions(id: $id, input: $input) {
      ...DumpOptionsFields
    }
  }
`,
  [DUMP_OPTIONS_FIELDS],
);

export const DELETE_DUMP_OPTIONS = graphql(`
  mutation DeleteDumpOptions($id: ID!) {
    deleteDumpOptions(id: $id) {
      id
    }
  }
`);

/** A database server as the servers page and its forms show it. */
export type Server = ResultOf<typeof SERVER_FIELDS>;
/** A dump options profile. */
export type DumpOptions = ResultOf<typeof DUMP_OPTIONS_FIELDS>;
