-- Encrypted backups (server/encryption/): the encryption mode of profiles and backups, the keys
-- artifacts are encrypted to, which keys open each artifact, per-copy SHA-256 and rewrap jobs.

-- AlterTable
ALTER TABLE `DumpOptions` ADD COLUMN `encryption` ENUM('NONE', 'AGE') NOT NULL DEFAULT 'NONE';

-- AlterTable
ALTER TABLE `Backup` ADD COLUMN `encryption` ENUM('NONE', 'AGE') NOT NULL DEFAULT 'NONE';

-- AlterTable
ALTER TABLE `BackupArtifact` ADD COLUMN `sha256` CHAR(64) NULL,
    ADD COLUMN `rewrapSha256` CHAR(64) NULL,
    ADD COLUMN `rewrapKeyIds` JSON NULL;

-- CreateTable
CREATE TABLE `EncryptionKey` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `kind` ENUM('INSTANCE', 'RECOVERY') NOT NULL,
    `label` VARCHAR(100) NOT NULL,
    `recipient` VARCHAR(128) NOT NULL,
    `fingerprint` CHAR(16) NOT NULL,
    `identityEnc` TEXT NULL,
    `retiredAt` DATETIME(3) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `EncryptionKey_recipient_key`(`recipient`),
    INDEX `EncryptionKey_kind_retiredAt_idx`(`kind`, `retiredAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `ArtifactEncryptionKey` (
    `artifactId` INTEGER NOT NULL,
    `keyId` INTEGER NOT NULL,

    INDEX `ArtifactEncryptionKey_keyId_idx`(`keyId`),
    PRIMARY KEY (`artifactId`, `keyId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `EncryptionRewrap` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `status` ENUM('RUNNING', 'SUCCEEDED', 'FAILED') NOT NULL DEFAULT 'RUNNING',
    `requestedBy` VARCHAR(150) NOT NULL,
    `keyIds` JSON NOT NULL,
    `total` INTEGER NOT NULL DEFAULT 0,
    `done` INTEGER NOT NULL DEFAULT 0,
    `failed` INTEGER NOT NULL DEFAULT 0,
    `error` TEXT NULL,
    `instanceId` VARCHAR(255) NOT NULL,
    `startedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `heartbeatAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `finishedAt` DATETIME(3) NULL,

    INDEX `EncryptionRewrap_status_idx`(`status`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `ArtifactEncryptionKey` ADD CONSTRAINT `ArtifactEncryptionKey_artifactId_fkey` FOREIGN KEY (`artifactId`) REFERENCES `BackupArtifact`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ArtifactEncryptionKey` ADD CONSTRAINT `ArtifactEncryptionKey_keyId_fkey` FOREIGN KEY (`keyId`) REFERENCES `EncryptionKey`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
