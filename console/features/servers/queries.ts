// GraphQL operations of the Servers page.

export const SERVER_FIELDS = /* GraphQL */ `
  fragment ServerFields on Server {
    id
    name
    engine
    host
    port
    username
    passwordSet
    tls
    enabled
    includeDatabases
    excludeDatabases
    maxConcurrent
    dumpOptionsId
  }
`;

export const SERVERS = /* GraphQL */ `
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
  ${SERVER_FIELDS}
`;

export const CREATE_SERVER = /* GraphQL */ `
  mutation CreateServer($input: ServerInput!) {
    createServer(input: $input) {
      ...ServerFields
    }
  }
  ${SERVER_FIELDS}
`;

export const UPDATE_SERVER = /* GraphQL */ `
  mutation UpdateServer($id: Int!, $input: ServerUpdateInput!) {
    updateServer(id: $id, input: $input) {
      ...ServerFields
    }
  }
  ${SERVER_FIELDS}
`;

export const DELETE_SERVER = /* GraphQL */ `
  mutation DeleteServer($id: Int!) {
    deleteServer(id: $id) {
      id
    }
  }
`;

export const TEST_SERVER = /* GraphQL */ `
  mutation TestServerConnection($id: Int!) {
    testServerConnection(id: $id) {
      ok
      version
      databases
      allDatabases
      dumpTool
      warnings
      errorKind
      error
    }
  }
`;

export const RUN_BACKUP = /* GraphQL */ `
  mutation RunBackup($input: RunBackupInput!) {
    runBackup(input: $input) {
      id
      database
      status
    }
  }
`;

export interface ConnectionTest {
  ok: boolean;
  version: string | null;
  databases: string[];
  allDatabases: string[];
  dumpTool: string | null;
  warnings: string[];
  errorKind: string | null;
  error: string | null;
}

export const DUMP_OPTIONS_FIELDS = /* GraphQL */ `
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
  }
`;

export const DUMP_OPTIONS_PROFILES = /* GraphQL */ `
  query DumpOptionsProfiles {
    dumpOptionsProfiles {
      ...DumpOptionsFields
    }
  }
  ${DUMP_OPTIONS_FIELDS}
`;

export const CREATE_DUMP_OPTIONS = /* GraphQL */ `
  mutation CreateDumpOptions($input: DumpOptionsInput!) {
    createDumpOptions(input: $input) {
      ...DumpOptionsFields
    }
  }
  ${DUMP_OPTIONS_FIELDS}
`;

export const UPDATE_DUMP_OPTIONS = /* GraphQL */ `
  mutation UpdateDumpOptions($id: Int!, $input: DumpOptionsInput!) {
    updateDumpOptions(id: $id, input: $input) {
      ...DumpOptionsFields
    }
  }
  ${DUMP_OPTIONS_FIELDS}
`;

export const DELETE_DUMP_OPTIONS = /* GraphQL */ `
  mutation DeleteDumpOptions($id: Int!) {
    deleteDumpOptions(id: $id) {
      id
    }
  }
`;
