// GraphQL operations of the Storage page.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

const TARGET_FIELDS = graphql(`
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
`);

export const STORAGE = graphql(
  `
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
`,
  [TARGET_FIELDS],
);

export const CREATE_TARGET = graphql(
  `
  mutation CreateStorageTarget($input: StorageTargetInput!) {
    createStorageTarget(input: $input) {
      ...TargetFields
    }
  }
`,
  [TARGET_FIELDS],
);

export const UPDATE_TARGET = graphql(
  `
  mutation UpdateStorageTarget($id: ID!, $input: StorageTargetInput!, $migration: StorageTargetMigration) {
    updateStorageTarget(id: $id, input: $input, migration: $migration) {
      ...TargetFields
    }
  }
`,
  [TARGET_FIELDS],
);

export const DELETE_TARGET = graphql(`
  mutation DeleteStorageTarget($id: ID!) {
    deleteStorageTarget(id: $id) {
      id
    }
  }
`);

export const TEST_TARGET = graphql(`
  mutation TestStorageTarget($id: ID!) {
    testStorageTarget(id: $id) {
      ok
      latencyMs
      error
    }
  }
`);

/** The result of a storage target test. */
/** "Test" from the create / edit form: what the form holds, unsaved (over the saved target when editing). */
export const TEST_TARGET_DRAFT = graphql(`
  mutation TestStorageDraft($id: ID, $input: StorageTargetInput!) {
    testStorageTarget(id: $id, input: $input) {
      ok
      latencyMs
      error
    }
  }
`);

export type TargetTest = ResultOf<typeof TEST_TARGET>["testStorageTarget"];

/** A storage target as the storage page and its form show it. */
export type StorageTarget = ResultOf<typeof TARGET_FIELDS>;
