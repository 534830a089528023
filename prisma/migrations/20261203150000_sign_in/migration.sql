-- Sign-in (server/auth/oidc, server/auth/totp): single sign-on users, TOTP, recovery codes, sign-in settings.

-- AlterTable
ALTER TABLE `User` ADD COLUMN `authSource` VARCHAR(10) NOT NULL DEFAULT 'LOCAL',
    ADD COLUMN `oidcSubject` VARCHAR(191) NULL,
    ADD COLUMN `totpSecret` TEXT NULL,
    ADD COLUMN `totpPendingSecret` TEXT NULL,
    ADD COLUMN `totpEnabledAt` DATETIME(3) NULL,
    ADD COLUMN `totpLastStep` INTEGER NULL;

-- CreateIndex
CREATE UNIQUE INDEX `User_oidcSubject_key` ON `User`(`oidcSubject`);

-- CreateTable
CREATE TABLE `RecoveryCode` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `userId` INTEGER NOT NULL,
    `codeHash` CHAR(64) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `usedAt` DATETIME(3) NULL,

    UNIQUE INDEX `RecoveryCode_codeHash_key`(`codeHash`),
    INDEX `RecoveryCode_userId_idx`(`userId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `RecoveryCode` ADD CONSTRAINT `RecoveryCode_userId_fkey` FOREIGN KEY (`userId`) REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- CreateTable
CREATE TABLE `SignInSettings` (
    `id` INTEGER NOT NULL,
    `oidcEnabled` BOOLEAN NOT NULL DEFAULT false,
    `oidcIssuer` VARCHAR(500) NULL,
    `oidcClientId` VARCHAR(255) NULL,
    `oidcClientSecret` TEXT NULL,
    `oidcScopes` VARCHAR(500) NOT NULL DEFAULT 'openid profile email',
    `oidcRoleClaim` VARCHAR(100) NOT NULL DEFAULT 'groups',
    `oidcRoleMappings` TEXT NOT NULL DEFAULT '[]',
    `oidcDefaultRole` ENUM('ADMIN', 'OPERATOR', 'VIEWER') NULL,
    `oidcLabel` VARCHAR(100) NOT NULL DEFAULT 'Single sign-on',
    `localLoginEnabled` BOOLEAN NOT NULL DEFAULT true,
    `totpRequiredRoles` VARCHAR(100) NOT NULL DEFAULT '',
    `oidcLastTest` TEXT NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
