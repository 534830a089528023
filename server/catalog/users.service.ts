import { z } from "zod";
import { LoginThrottle } from "../auth/login-throttle.ts";
import { hashPassword } from "../auth/password.ts";
import { actorName, requireRole, type Principal } from "../auth/roles.ts";
import type { User } from "../db/generated/client.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { commitChange, type CatalogDeps } from "./catalog-deps.ts";
import { definedOnly } from "./objects.ts";
import { parseInput } from "./validate.ts";

const passwordRule = z.string().min(8, "must be at least 8 characters").max(200, "must be at most 200 characters");
const updateSchema = z
  .object({
    username: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9._@-]{1,100}$/, "may contain only letters, digits, '.', '_', '@' and '-' (max 100)"),
    password: passwordRule,
    role: z.enum(["ADMIN", "OPERATOR", "VIEWER"]),
    disabled: z.boolean(),
  })
  .partial();
const createSchema = updateSchema.required({ username: true, password: true, role: true });

export type UserInput = z.input<typeof updateSchema>;

/** Console users and their roles; admins only, and the last enabled admin cannot be removed. */
export class UsersService {
  constructor(private readonly deps: CatalogDeps) {}

  list(): Promise<User[]> {
    return this.deps.prisma.user.findMany({ orderBy: { username: "asc" } });
  }

  async get(id: number): Promise<User> {
    const row = await this.deps.prisma.user.findUnique({ where: { id } });
    if (!row) throw new NotFoundError("user", id);
    return row;
  }

  async create(principal: Principal, raw: object): Promise<User> {
    requireRole(principal, "ADMIN");
    const { password, ...input } = parseInput(createSchema, raw);
    await this.#checkName(input.username, null);
    const passwordHash = await hashPassword(password);
    return commitChange(this.deps, { actor: actorName(principal), entity: "user", action: "create", before: null }, (tx) =>
      tx.user.create({ data: { ...input, passwordHash } }),
    );
  }

  async update(principal: Principal, id: number, raw: object): Promise<User> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    const { password, ...input } = parseInput(updateSchema, raw);
    if (input.username) await this.#checkName(input.username, id);
    const demoted = (input.role && input.role !== "ADMIN") || input.disabled === true;
    if (before.role === "ADMIN" && demoted) await this.#keepOneAdmin(id, input.role ? "role" : "disabled");
    const passwordHash = password ? await hashPassword(password) : undefined;
    const updated = await commitChange(this.deps, { actor: actorName(principal), entity: "user", action: "update", before }, async (tx) => {
      // A new password, a new role or disabling ends the user's sessions.
      if (password || input.role || input.disabled) await tx.session.deleteMany({ where: { userId: id } });
      return tx.user.update({ where: { id }, data: definedOnly({ ...input, passwordHash }) });
    });
    // An admin who sets a new password lets the user sign in at once, even after failed logins.
    if (password) await new LoginThrottle(this.deps.prisma).clearUser(updated.username);
    return updated;
  }

  async delete(principal: Principal, id: number): Promise<User> {
    requireRole(principal, "ADMIN");
    const before = await this.get(id);
    if (before.role === "ADMIN") await this.#keepOneAdmin(id, "id");
    await commitChange(this.deps, { actor: actorName(principal), entity: "user", action: "delete", before }, (tx) => tx.user.delete({ where: { id } }));
    return before;
  }

  async #keepOneAdmin(id: number, field: string): Promise<void> {
    const others = await this.deps.prisma.user.count({ where: { role: "ADMIN", disabled: false, id: { not: id } } });
    if (others === 0) throw new ValidationError(field, "the last enabled admin cannot be removed, demoted or disabled");
  }

  async #checkName(username: string, selfId: number | null): Promise<void> {
    const clash = await this.deps.prisma.user.findUnique({ where: { username } });
    if (clash && clash.id !== selfId) throw new ConflictError("username", `username: ${JSON.stringify(username)} is taken`);
  }
}
