// GraphQL operations of the Settings page.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const USERS = graphql(`
  query Users {
    users {
      id
      username
      role
      disabled
      createdAt
    }
  }
`);

export const CREATE_USER = graphql(`
  mutation CreateUser($input: UserInput!) {
    createUser(input: $input) {
      id
      username
    }
  }
`);

export const UPDATE_USER = graphql(`
  mutation UpdateUser($id: ID!, $input: UserInput!) {
    updateUser(id: $id, input: $input) {
      id
      username
    }
  }
`);

export const DELETE_USER = graphql(`
  mutation DeleteUser($id: ID!) {
    deleteUser(id: $id) {
      id
    }
  }
`);

export const API_TOKENS = graphql(`
  query ApiTokens {
    apiTokens {
      id
      name
      prefix
      role
      createdAt
      expiresAt
      lastUsedAt
      revokedAt
      user {
        username
      }
    }
  }
`);

export const CREATE_TOKEN = graphql(`
  mutation CreateApiToken($name: String!, $role: Role!, $expiresInDays: Int) {
    createApiToken(name: $name, role: $role, expiresInDays: $expiresInDays) {
      token
      apiToken {
        id
        name
      }
    }
  }
`);

export const REVOKE_TOKEN = graphql(`
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(id: $id) {
      id
      revokedAt
    }
  }
`);

export const AUDIT_LOG = graphql(`
  query AuditLog($first: Int, $after: String) {
    auditLog(first: $first, after: $after) {
      nodes {
        id
        at
        actor
        action
        entityType
        entityId
        before
        after
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const EXPORT_CONFIGURATION = graphql(`
  query ExportConfiguration {
    exportConfiguration
  }
`);

const CONFIGURATION_PLAN_FIELDS = graphql(`
  fragment ConfigurationPlanFields on ConfigurationPlan {
    changes {
      action
      kind
      name
      fields {
        field
        before
        after
        secret
      }
    }
    warnings
    summary
    empty
    applied
    dryRun
    prune
  }
`);

/** What a document would change; refused with every problem (extensions.fields) when it is bad. */
export const PLAN_CONFIGURATION = graphql(
  `
  query PlanConfiguration($document: String!, $prune: Boolean) {
    planConfiguration(document: $document, prune: $prune) {
      ...ConfigurationPlanFields
    }
  }
`,
  [CONFIGURATION_PLAN_FIELDS],
);

/** Applies a document in one transaction; returns what it changed. */
export const APPLY_CONFIGURATION = graphql(
  `
  mutation ApplyConfiguration($document: String!, $prune: Boolean) {
    applyConfiguration(document: $document, prune: $prune) {
      ...ConfigurationPlanFields
    }
  }
`,
  [CONFIGURATION_PLAN_FIELDS],
);

const ENCRYPTION_KEY_FIELDS = graphql(`
  fragment EncryptionKeyFields on EncryptionKey {
    id
    kind
    label
    recipient
    fingerprint
    createdAt
    retiredAt
    artifactCount
    backupCount
    identityHeld
  }
`);

export const ENCRYPTION_KEYS = graphql(
  `
  query EncryptionKeys {
    encryptionKeys {
      ...EncryptionKeyFields
    }
  }
`,
  [ENCRYPTION_KEY_FIELDS],
);

export const ADD_RECOVERY_RECIPIENT = graphql(
  `
  mutation AddRecoveryRecipient($input: AddRecoveryRecipientInput!) {
    addRecoveryRecipient(input: $input) {
      ...EncryptionKeyFields
    }
  }
`,
  [ENCRYPTION_KEY_FIELDS],
);

export const RETIRE_ENCRYPTION_KEY = graphql(
  `
  mutation RetireEncryptionKey($id: ID!) {
    retireEncryptionKey(id: $id) {
      ...EncryptionKeyFields
    }
  }
`,
  [ENCRYPTION_KEY_FIELDS],
);

/** An encryption key as the Encryption panel lists it. */
export type EncryptionKey = ResultOf<typeof ENCRYPTION_KEY_FIELDS>;

const ENCRYPTION_REWRAP_FIELDS = graphql(`
  fragment EncryptionRewrapFields on EncryptionRewrap {
    id
    status
    requestedBy
    total
    done
    failed
    error
    startedAt
    heartbeatAt
    finishedAt
  }
`);

export const ENCRYPTION_REWRAPS = graphql(
  `
  query EncryptionRewraps {
    encryptionRewraps(first: 1) {
      nodes {
        ...EncryptionRewrapFields
      }
    }
  }
`,
  [ENCRYPTION_REWRAP_FIELDS],
);

export const REWRAP_BACKUPS = graphql(
  `
  mutation RewrapBackups {
    rewrapBackups {
      ...EncryptionRewrapFields
    }
  }
`,
  [ENCRYPTION_REWRAP_FIELDS],
);
