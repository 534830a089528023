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
