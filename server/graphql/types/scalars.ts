import { GraphQLError, Kind } from "graphql";
import { builder } from "../builder.ts";

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

builder.scalarType("DateTime", {
  description: "An instant, as an ISO-8601 string in UTC.",
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError(`invalid DateTime ${JSON.stringify(value)}`);
    return date;
  },
});

builder.scalarType("BigInt", {
  description: "A 64-bit integer (byte counts), serialized as a string to keep its precision.",
  serialize: (value) => value.toString(),
  parseValue: (value) => {
    if (typeof value !== "string" && typeof value !== "number") throw new GraphQLError("BigInt must be a string or a number");
    return BigInt(value);
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING && ast.kind !== Kind.INT) throw new GraphQLError("BigInt must be a string or an integer");
    return BigInt(ast.value);
  },
});
