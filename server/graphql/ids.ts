/**
 * Identifiers in the API are GraphQL `ID`s: they go out as strings ("7"), and a client may send
 * either a number or a string. Services take numbers, so every `ID` argument and input field is
 * decoded here, once, before any resolver runs: `decodeIdArguments(schema)` wraps each field that
 * takes an `ID` (directly, in a list, or inside an input object) so its resolver receives numbers;
 * anything that is not a row id is refused as a ValidationError naming the field.
 */
import type {
  GraphQLArgument,
  GraphQLField,
  GraphQLFieldResolver,
  GraphQLInputObjectType,
  GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
} from "graphql";
import { ValidationError } from "../errors.ts";

/**
 * graphql's kinds by their toStringTag, not `isObjectType` & co.: graphql ships CommonJS and ESM
 * builds, a test runner may load both, and its instanceof checks then refuse the other's types.
 */
const kind = (type: unknown): string => Object.prototype.toString.call(type).slice(8, -1);
const isNonNull = (t: unknown): t is GraphQLNonNull<GraphQLInputType> => kind(t) === "GraphQLNonNull";
const isList = (t: unknown): t is GraphQLList<GraphQLInputType> => kind(t) === "GraphQLList";
const isInputObject = (t: unknown): t is GraphQLInputObjectType => kind(t) === "GraphQLInputObjectType";
const isObject = (t: unknown): t is GraphQLObjectType => kind(t) === "GraphQLObjectType";

/** The largest id a row can have (the columns are signed 32-bit INT). */
const MAX_ID = 2_147_483_647;

/** A row id from what graphql-js hands a resolver for an `ID` (a string) or a caller's number. */
export function decodeId(value: unknown, field: string): number {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text === "string" && /^[1-9][0-9]{0,9}$/.test(text)) {
    const id = Number(text);
    if (id <= MAX_ID) return id;
  }
  throw new ValidationError(field, "not a valid id");
}

/** Turns one argument or input field's value into what the resolver should see; undefined = no ids inside. */
type Decoder = (value: unknown, field: string) => unknown;

function decoderFor(type: GraphQLInputType, seen: Map<string, Decoder | undefined>): Decoder | undefined {
  if (isNonNull(type)) return decoderFor(type.ofType, seen);
  if (isList(type)) {
    const item = decoderFor(type.ofType, seen);
    if (!item) return undefined;
    return (value, field) => (Array.isArray(value) ? value.map((v) => item(v, field)) : item(value, field));
  }
  const named = type;
  if (named.name === "ID") return (value, field) => (value == null ? value : decodeId(value, field));
  if (!isInputObject(named)) return undefined;
  if (seen.has(named.name)) return seen.get(named.name);
  seen.set(named.name, undefined); // a recursive input decodes its ids from the first level only
  const fields = Object.values(named.getFields())
    .map((f) => ({ name: f.name, decode: decoderFor(f.type, seen) }))
    .filter((f): f is { name: string; decode: Decoder } => f.decode !== undefined);
  const decode: Decoder | undefined =
    fields.length === 0
      ? undefined
      : (value) => {
          if (value == null || typeof value !== "object") return value;
          const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
          for (const f of fields) if (out[f.name] != null) out[f.name] = f.decode(out[f.name], f.name);
          return out;
        };
  seen.set(named.name, decode);
  return decode;
}

function wrap(resolver: GraphQLFieldResolver<unknown, unknown> | undefined, args: ReadonlyArray<{ name: string; decode: Decoder }>) {
  if (!resolver) return resolver;
  return (source: unknown, raw: Record<string, unknown>, context: unknown, info: Parameters<GraphQLFieldResolver<unknown, unknown>>[3]) => {
    const decoded: Record<string, unknown> = { ...raw };
    for (const a of args) if (decoded[a.name] != null) decoded[a.name] = a.decode(decoded[a.name], a.name);
    return resolver(source, decoded, context, info);
  };
}

/** Wraps, in place, every field of `schema` that takes an `ID` so its resolvers see numbers. */
export function decodeIdArguments(schema: GraphQLSchema): GraphQLSchema {
  const seen = new Map<string, Decoder | undefined>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObject(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
      const args = field.args
        .map((a: GraphQLArgument) => ({ name: a.name, decode: decoderFor(a.type, seen) }))
        .filter((a): a is { name: string; decode: Decoder } => a.decode !== undefined);
      if (args.length === 0) continue;
      field.resolve = wrap(field.resolve, args);
      field.subscribe = wrap(field.subscribe, args);
    }
  }
  return schema;
}
