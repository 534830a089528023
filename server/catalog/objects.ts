/** Drops the keys whose value is undefined: "not given" in a partial update. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Drops the keys whose value is null or undefined: on create, "use the column's default". */
export function withoutNulls<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v != null)) as { [K in keyof T]?: Exclude<T[K], null> };
}
