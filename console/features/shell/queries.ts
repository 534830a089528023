// GraphQL operations of the console shell: who is signed in, and signing out.

import { graphql, type ResultOf } from "@/lib/graphql-tada";

export const ME = graphql(`
  query Me {
    me {
      id
      username
      role
    }
  }
`);

export const LOGOUT = graphql(`
  mutation Logout {
    logout
  }
`);

/** The signed-in user. */
export type Viewer = NonNullable<ResultOf<typeof ME>["me"]>;
