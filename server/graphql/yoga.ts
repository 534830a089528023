import type { IncomingMessage } from "node:http";
import { Kind, type DocumentNode, type OperationDefinitionNode } from "graphql";
import { createGraphQLError, createYoga, type Plugin } from "graphql-yoga";
import type { PrismaClient } from "../db/client.ts";
import { parseCookies, SESSION_COOKIE, sessionCookie } from "../http/cookies.ts";
import { Edge } from "../http/edge.ts";
import type { Logger } from "../observability/logger.ts";
import type { GraphQLContext, Services } from "./context.ts";
import { createMaskError } from "./errors.ts";
import { armorPlugins, boundedDocumentCache, GRAPHQL_LIMITS } from "./limits.ts";
import { schema } from "./schema.ts";

/** Root fields a caller may use without being authenticated. */
const PUBLIC_MUTATIONS = new Set(["login", "__typename"]);

export type YogaDeps = { prisma: PrismaClient; services: Services; logger: Logger; edge?: Edge };

/** What the Node adapter passes along with each request (absent when tests call `yoga.fetch`). */
type ServerContext = { req?: IncomingMessage };

/**
 * The GraphQL endpoint at /graphql. Documents over the limits of GRAPHQL_LIMITS are refused while
 * parsing and validating, before authentication. Authenticates every request from its session
 * cookie or bearer token; refuses any operation but `login` without authentication. CORS and the
 * cross-origin rules are the edge's (app.ts), in front of this handler.
 */
export function createGraphQLHandler(deps: YogaDeps) {
  const cookiesToSet = new WeakMap<Request, string[]>();
  const edge = deps.edge ?? new Edge();

  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: false,
    logging: false,
    // The edge answers CORS (allow-list only); multipart and form bodies are refused there as well.
    cors: false,
    multipart: false,
    batching: false,
    maxRequestBodySize: GRAPHQL_LIMITS.maxBodyBytes,
    parserAndValidationCache: { documentCache: boundedDocumentCache(), errorCache: boundedDocumentCache() },
    maskedErrors: { maskError: createMaskError(deps.logger.child({ component: "graphql" })) },
    context: async ({ request, req }): Promise<GraphQLContext> => {
      const sessionToken = parseCookies(request.headers.get("cookie"))[SESSION_COOKIE];
      const bearerToken = request.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
      const principal = await deps.services.auth.authenticate({ sessionToken, bearerToken });
      const secure = new URL(request.url).protocol === "https:" || edge.isSecure(request.headers);
      const queue = (cookie: string) => cookiesToSet.set(request, [...(cookiesToSet.get(request) ?? []), cookie]);
      const memos = new Map<string, Promise<unknown>>();
      return {
        memo: <T>(key: string, load: () => Promise<T>) => {
          if (!memos.has(key)) memos.set(key, load());
          return memos.get(key) as Promise<T>;
        },
        principal,
        clientAddress: edge.clientAddress(req),
        services: deps.services,
        prisma: deps.prisma,
        session: {
          current: sessionToken,
          set: (token, expiresAt) => queue(sessionCookie(token, expiresAt, secure)),
          clear: () => queue(sessionCookie("", new Date(0), secure)),
        },
      };
    },
    plugins: [jsonResponseMediaType(), ...armorPlugins(), requireAuthentication(), setCookies(cookiesToSet)],
  });
}

/** `application/graphql-response+json` bodies are JSON too (yoga parses only application/json ones). */
function jsonResponseMediaType(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method === "POST" && /^application\/graphql-response\+json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) {
        setRequestParser(async (r) => {
          try {
            return await r.json();
          } catch (error) {
            // The body-size limit errors the stream with its own GraphQL error (413).
            if (error instanceof Error && "extensions" in error) throw error;
            throw createGraphQLError("POST body sent invalid JSON.", { extensions: { http: { status: 400 }, code: "BAD_REQUEST" } });
          }
        });
      }
    },
  };
}

function requireAuthentication(): Plugin<GraphQLContext> {
  const refusal = () => ({
    errors: [createGraphQLError("authentication required: log in or send an API token", { extensions: { code: "UNAUTHENTICATED" } })],
  });
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (args.contextValue.principal) return;
      if (isPublicOperation(args.document, args.operationName ?? undefined)) return;
      setResultAndStopExecution(refusal());
    },
    // Subscriptions (backupEvents over SSE) bypass onExecute: every one needs a principal.
    onSubscribe({ args, setResultAndStopExecution }) {
      if (!args.contextValue.principal) setResultAndStopExecution(refusal());
    },
  };
}

function isPublicOperation(document: DocumentNode, operationName: string | undefined): boolean {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (operation?.operation !== "mutation") return false;
  return operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && PUBLIC_MUTATIONS.has(s.name.value));
}

function setCookies(cookiesToSet: WeakMap<Request, string[]>): Plugin {
  return {
    onResponse({ request, response }) {
      for (const cookie of cookiesToSet.get(request) ?? []) response.headers.append("set-cookie", cookie);
    },
  };
}
