import { ValidationError } from "../errors.ts";
import { builder } from "./builder.ts";
import type { GraphQLContext } from "./context.ts";

/**
 * Relay connections over the services' keyset pages, shaped like GitHub's API: `edges { cursor node }`,
 * `pageInfo`, and the shortcuts `nodes` and `totalCount`, so urql's and Apollo's stock relay pagination
 * work unchanged. Paging is forward only (`first`/`after`): hasPreviousPage is true when `after` was
 * given, startCursor is the first edge's cursor.
 */

/** One keyset page as the services return it, plus what the connection needs to describe it. */
export type ConnectionPage<Node> = { nodes: Node[]; hasNextPage: boolean; after?: string | null };

type PageInfoShape = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };

export const PageInfoRef = builder.objectRef<PageInfoShape>("PageInfo").implement({
  description: "Where a connection's page sits: forward paging passes endCursor as `after`.",
  fields: (t) => ({
    hasNextPage: t.exposeBoolean("hasNextPage"),
    hasPreviousPage: t.exposeBoolean("hasPreviousPage", { description: "True when the page was asked for with `after`." }),
    startCursor: t.exposeString("startCursor", { nullable: true }),
    endCursor: t.exposeString("endCursor", { nullable: true }),
  }),
});

type PrismaNodeModel = "Backup" | "Restore" | "AuditLog" | "RestoreDrill" | "NotificationDelivery" | "EncryptionRewrap";

/**
 * A `<name>Connection` (and `<name>Edge`) of a Prisma model. `cursor` is the keyset cursor of a row;
 * `totalCount` counts every row the page's filter matches. `legacyFields`: the top-level
 * hasNextPage/endCursor that backups and restores had before, kept for one release, deprecated.
 */
export function prismaConnection<Node extends { id: number }, Page extends ConnectionPage<Node>>(
  name: string,
  model: PrismaNodeModel,
  opts: {
    description: string;
    cursor: (node: Node) => string;
    totalCount: (page: Page, ctx: GraphQLContext) => Promise<number>;
    legacyFields?: boolean;
  },
) {
  const EdgeRef = builder.objectRef<{ cursor: string; node: Node }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString("cursor", { description: "Pass as `after` to continue after this node." }),
      node: t.prismaField({ type: model as never, resolve: (_q, edge) => edge.node as never }),
    }),
  });
  const pageInfo = (page: Page): PageInfoShape => ({
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.after != null,
    startCursor: page.nodes.length ? opts.cursor(page.nodes[0]!) : null,
    endCursor: page.nodes.length ? opts.cursor(page.nodes.at(-1)!) : null,
  });
  return builder.objectRef<Page>(`${name}Connection`).implement({
    description: opts.description,
    fields: (t) => ({
      edges: t.field({ type: [EdgeRef], resolve: (page) => page.nodes.map((node) => ({ cursor: opts.cursor(node), node })) }),
      nodes: t.prismaField({ type: [model] as never, resolve: (_q, page) => page.nodes as never }),
      pageInfo: t.field({ type: PageInfoRef, resolve: pageInfo }),
      totalCount: t.int({ description: "Rows matching the filter (costs a count query).", resolve: (page, _a, ctx) => opts.totalCount(page, ctx) }),
      ...(opts.legacyFields
        ? {
            hasNextPage: t.boolean({ deprecationReason: "Use pageInfo.hasNextPage.", resolve: (page) => page.hasNextPage }),
            endCursor: t.string({ nullable: true, deprecationReason: "Use pageInfo.endCursor.", resolve: (page) => pageInfo(page).endCursor }),
          }
        : {}),
    }),
  });
}

/** The cursor of a list paged newest first by id: the id, as a string. */
export const idCursor = (node: { id: number }): string => String(node.id);

/**
 * The id an id cursor stands for; null without one. Throws a ValidationError naming `after` for a
 * string that is not a cursor `field` handed out, rather than silently starting at the first page.
 */
export function parseIdCursor(after: string | null | undefined, field: string): number | null {
  if (after == null) return null;
  const id = /^[1-9]\d{0,9}$/.test(after) ? Number(after) : 0;
  if (id < 1 || id > 2_147_483_647) throw new ValidationError("after", `is not a cursor returned by ${field} (endCursor)`);
  return id;
}
