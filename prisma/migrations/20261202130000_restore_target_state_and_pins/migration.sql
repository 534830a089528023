-- What a restore left the target as, the scratch database of a MySQL/MariaDB overwrite, and pins
-- that keep retention away from artifacts being read (server/restore/, server/retention/artifact-pins.ts).

-- AlterTable
ALTER TABLE `Restore` ADD COLUMN `targetState` ENUM('UNTOUCHED', 'CREATED', 'REPLACED', 'INCOMPLETE', 'UNKNOWN') NULL,
    ADD COLUMN `targetDetail` TEXT NULL,
    ADD COLUMN `scratchDatabase` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;

-- AlterTable
ALTER TABLE `BackupArtifact` ADD COLUMN `deletingAt` DATETIME(3) NULL;

-- CreateTable
CREATE TABLE `ArtifactPin` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `artifactId` INTEGER NOT NULL,
    `ownerKind` ENUM('RESTORE', 'VERIFICATION', 'DRILL') NOT NULL,
    `ownerId` INTEGER NOT NULL,
    `instanceId` VARCHAR(255) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `expiresAt` DATETIME(3) NOT NULL,

    INDEX `ArtifactPin_artifactId_expiresAt_idx`(`artifactId`, `expiresAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `ArtifactPin` ADD CONSTRAINT `ArtifactPin_artifactId_fkey` FOREIGN KEY (`artifactId`) REFERENCES `BackupArtifact`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
