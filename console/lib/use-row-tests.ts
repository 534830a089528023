"use client";

import { useState } from "react";
import { messageOf } from "./graphql";

/** The state of one row's test: running, its result, or why it could not run. */
export type RowTest<T> = T | "testing" | Error;

/**
 * Per-row "Test" buttons (server connection, storage target, webhook): `run(id)` marks the row as
 * testing, then stores what `test(id)` returned, or the error it threw.
 */
export function useRowTests<T>(test: (id: string) => Promise<T>): { tests: Record<string, RowTest<T>>; run: (id: string) => Promise<void> } {
  const [tests, setTests] = useState<Record<string, RowTest<T>>>({});
  async function run(id: string) {
    setTests((t) => ({ ...t, [id]: "testing" }));
    try {
      const result = await test(id);
      setTests((t) => ({ ...t, [id]: result }));
    } catch (error) {
      setTests((t) => ({ ...t, [id]: new Error(messageOf(error)) }));
    }
  }
  return { tests, run };
}
