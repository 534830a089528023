// GraphQL operations of the Storage page.

const TARGET_FIELDS = /* GraphQL */ `
  fragment TargetFields on StorageTarget {
    id
    name
    kind
    enabled
    isDefault
    path
    prefix
    bucket
    endpoint
    region
    accessKeyId
    secretAccessKeySet
    forcePathStyle
  }
`;

export const STORAGE = /* GraphQL */ `
  query Storage {
    storageTargets {
      ...TargetFields
    }
    dashboard {
      totals {
        storage {
          target {
            id
          }
          bytes
          objects
        }
      }
    }
  }
  ${TARGET_FIELDS}
`;

export const CREATE_TARGET = /* GraphQL */ `
  mutation CreateStorageTarget($input: StorageTargetInput!) {
    createStorageTarget(input: $input) {
      ...TargetFields
    }
  }
  ${TARGET_FIELDS}
`;

export const UPDATE_TARGET = /* GraphQL */ `
  mutation UpdateStorageTarget($id: Int!, $input: StorageTargetInput!) {
    updateStorageTarget(id: $id, input: $input) {
      ...TargetFields
    }
  }
  ${TARGET_FIELDS}
`;

export const DELETE_TARGET = /* GraphQL */ `
  mutation DeleteStorageTarget($id: Int!) {
    deleteStorageTarget(id: $id) {
      id
    }
  }
`;

export const TEST_TARGET = /* GraphQL */ `
  mutation TestStorageTarget($id: Int!) {
    testStorageTarget(id: $id) {
      ok
      latencyMs
      error
    }
  }
`;

export interface TargetTest {
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
}
