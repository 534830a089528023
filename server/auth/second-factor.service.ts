import type { AuditLog } from "../audit/audit-log.ts";
import type { PrismaClient } from "../db/client.ts";
import type { User } from "../db/generated/client.ts";
import { AppError, type TotpEnrolment } from "../errors.ts";
import type { SecretBox } from "../secrets/secret-box.ts";
import { generateRecoveryCodes, hashRecoveryCode } from "./recovery-codes.ts";
import { actorName, requireRole, type Principal } from "./roles.ts";
import type { SignInSettingsService } from "./sign-in-settings.service.ts";
import { generateTotpSecret, otpauthUri, qrSvg, verifyTotp } from "./totp.ts";

/** What a login offers as its second factor. */
export type SecondFactorAnswer = { totpCode?: string | null; recoveryCode?: string | null };

/** A user's second-factor state, as the console shows it. */
export type TotpStatus = { enabled: boolean; enabledAt: Date | null; recoveryCodesLeft: number; required: boolean };

/**
 * TOTP (RFC 6238) for local users: enrolment with a QR code, verification at login (each code
 * once), single-use recovery codes stored as SHA-256, enforcement per role. The secret is sealed at
 * rest. Enrolments, disabling, recovery-code use and failed codes are audited.
 */
export class SecondFactorService {
  constructor(private readonly deps: { prisma: PrismaClient; secrets: SecretBox; audit: AuditLog; signIn: SignInSettingsService; now?: () => Date }) {}

  #now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Whether the user's role must use TOTP (OIDC users sign in at their provider: never). */
  async required(user: Pick<User, "role" | "authSource">): Promise<boolean> {
    if (user.authSource !== "LOCAL") return false;
    return (await this.deps.signIn.get()).totpRequiredRoles.includes(user.role);
  }

  async status(userId: number): Promise<TotpStatus> {
    const user = await this.deps.prisma.user.findUniqueOrThrow({ where: { id: userId } });
    const left = await this.deps.prisma.recoveryCode.count({ where: { userId, usedAt: null } });
    return { enabled: Boolean(user.totpSecret), enabledAt: user.totpEnabledAt, recoveryCodesLeft: left, required: await this.required(user) };
  }

  /** Starts (or restarts) enrolment for the caller: a new secret, kept pending until a code confirms it. */
  async beginEnrolment(principal: Principal): Promise<TotpEnrolment> {
    const user = await this.#ownLocalUser(principal);
    if (user.totpSecret) throw new AppError("CONFLICT", "TOTP is already on for this user: turn it off first to enrol a new device", { field: "totp" });
    return this.#pending(user, true);
  }

  /** Finishes the caller's enrolment with a code of the pending secret; returns the recovery codes (shown once). */
  async confirmEnrolment(principal: Principal, code: string): Promise<string[]> {
    const user = await this.#ownLocalUser(principal);
    await this.enrol(user, code, actorName(principal));
    return this.#newRecoveryCodes(user.id);
  }

  /**
   * Enrols the pending secret if `code` matches it; throws UNAUTHENTICATED (audited) otherwise. Used
   * by confirmEnrolment and by a login that had to enrol.
   */
  async enrol(user: User, code: string, actor: string): Promise<void> {
    if (!user.totpPendingSecret) throw new AppError("BAD_USER_INPUT", "no enrolment is pending: start one first", { field: "code" });
    const secret = this.deps.secrets.open(user.totpPendingSecret);
    const step = verifyTotp(secret, code, this.#now());
    if (step === null) {
      await this.deps.audit.record(actor, "totp.failure", "User", user.id, null, { during: "enrolment" });
      throw new AppError("UNAUTHENTICATED", "wrong authentication code", { field: "code" });
    }
    await this.deps.prisma.user.update({
      where: { id: user.id },
      data: { totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpEnabledAt: this.#now(), totpLastStep: step },
    });
    await this.deps.audit.record(actor, "totp.enrol", "User", user.id, null, { username: user.username });
  }

  /** The enrolment a role that requires TOTP must finish at login: the pending secret (made now if none). */
  enrolmentAtLogin(user: User): Promise<TotpEnrolment> {
    return this.#pending(user, false);
  }

  /**
   * Checks a login's second factor for a user with TOTP on: a code (each accepted once) or an
   * unused recovery code (then spent). Returns false, audited as `totp.failure`, when neither is right.
   */
  async verifyAtLogin(user: User, answer: SecondFactorAnswer): Promise<boolean> {
    if (answer.recoveryCode) {
      const spent = await this.deps.prisma.recoveryCode.updateMany({
        where: { userId: user.id, codeHash: hashRecoveryCode(answer.recoveryCode), usedAt: null },
        data: { usedAt: this.#now() },
      });
      if (spent.count === 1) {
        const left = await this.deps.prisma.recoveryCode.count({ where: { userId: user.id, usedAt: null } });
        await this.deps.audit.record(user.username, "totp.recoveryCode.use", "User", user.id, null, { recoveryCodesLeft: left });
        return true;
      }
    } else if (answer.totpCode && user.totpSecret) {
      const step = verifyTotp(this.deps.secrets.open(user.totpSecret), answer.totpCode, this.#now(), user.totpLastStep);
      // The conditional update makes two logins racing with one code accept it once.
      if (step !== null) {
        const taken = await this.deps.prisma.user.updateMany({
          where: { id: user.id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
          data: { totpLastStep: step },
        });
        if (taken.count === 1) return true;
      }
    }
    await this.deps.audit.record(user.username, "totp.failure", "User", user.id, null, { with: answer.recoveryCode ? "recovery code" : "code" });
    return false;
  }

  /** Turns the caller's TOTP off after a current code; refused while their role requires it. */
  async disable(principal: Principal, code: string): Promise<void> {
    const user = await this.#ownLocalUser(principal);
    if (!user.totpSecret) return;
    if (await this.required(user)) throw new AppError("FORBIDDEN", `the ${user.role.toLowerCase()} role requires TOTP: it cannot be turned off`);
    if (!(await this.verifyAtLogin(user, { totpCode: code }))) throw new AppError("UNAUTHENTICATED", "wrong authentication code", { field: "code" });
    await this.#clear(user.id);
    await this.deps.audit.record(actorName(principal), "totp.disable", "User", user.id, null, { username: user.username });
  }

  /** An admin turns another user's TOTP off (a lost phone); the user enrols again at next login if required. */
  async reset(principal: Principal, userId: number): Promise<void> {
    requireRole(principal, "ADMIN");
    const user = await this.deps.prisma.user.findUniqueOrThrow({ where: { id: userId } });
    await this.#clear(user.id);
    await this.deps.audit.record(actorName(principal), "totp.disable", "User", user.id, null, { username: user.username, by: "admin reset" });
  }

  /** Replaces the caller's recovery codes after a current code; returns the new ones (shown once). */
  async regenerateRecoveryCodes(principal: Principal, code: string): Promise<string[]> {
    const user = await this.#ownLocalUser(principal);
    if (!user.totpSecret) throw new AppError("BAD_USER_INPUT", "TOTP is off for this user", { field: "code" });
    if (!(await this.verifyAtLogin(user, { totpCode: code }))) throw new AppError("UNAUTHENTICATED", "wrong authentication code", { field: "code" });
    const codes = await this.#newRecoveryCodes(user.id);
    await this.deps.audit.record(actorName(principal), "totp.recoveryCodes.regenerate", "User", user.id, null, { count: codes.length });
    return codes;
  }

  async #newRecoveryCodes(userId: number): Promise<string[]> {
    const codes = generateRecoveryCodes();
    await this.deps.prisma.$transaction([
      this.deps.prisma.recoveryCode.deleteMany({ where: { userId } }),
      this.deps.prisma.recoveryCode.createMany({ data: codes.map((c) => ({ userId, codeHash: hashRecoveryCode(c) })) }),
    ]);
    return codes;
  }

  async #clear(userId: number): Promise<void> {
    await this.deps.prisma.$transaction([
      this.deps.prisma.user.update({ where: { id: userId }, data: { totpSecret: null, totpPendingSecret: null, totpEnabledAt: null, totpLastStep: null } }),
      this.deps.prisma.recoveryCode.deleteMany({ where: { userId } }),
    ]);
  }

  async #pending(user: User, fresh: boolean): Promise<TotpEnrolment> {
    let secret = !fresh && user.totpPendingSecret ? this.deps.secrets.open(user.totpPendingSecret) : null;
    if (!secret) {
      secret = generateTotpSecret();
      await this.deps.prisma.user.update({ where: { id: user.id }, data: { totpPendingSecret: this.deps.secrets.seal(secret) } });
    }
    const uri = otpauthUri(secret, user.username);
    return { secret, otpauthUri: uri, qrSvg: await qrSvg(uri) };
  }

  /** TOTP is managed from a console session, for one's own local account. */
  async #ownLocalUser(principal: Principal): Promise<User> {
    requireRole(principal, "VIEWER");
    if (principal.via !== "session") throw new AppError("FORBIDDEN", "TOTP is managed from a console session, not with an API token");
    const user = await this.deps.prisma.user.findUniqueOrThrow({ where: { id: principal.userId } });
    if (user.authSource !== "LOCAL") throw new AppError("FORBIDDEN", "single sign-on users use their provider's second factor");
    return user;
  }
}
