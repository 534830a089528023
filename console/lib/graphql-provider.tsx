"use client";

import type { ReactNode } from "react";
import { Provider } from "urql";
import { client } from "./graphql";

/** Makes the console's urql client available to every page's hooks. */
export function GraphQLProvider({ children }: { children: ReactNode }) {
  return <Provider value={client}>{children}</Provider>;
}
