-- Restores, artifact verification and restore drills (server/restore/).
-- `database` columns use a binary collation, as `Backup`.`database` does.

-- AlterTable
ALTER TABLE `Schedule` ADD COLUMN `drillEnabled` BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN `drillServerId` INTEGER NULL,
    ADD COLUMN `drillCron` VARCHAR(120) NULL,
    ADD COLUMN `lastDrillAt` DATETIME(3) NULL;

-- AlterTable
ALTER TABLE `Backup` ADD COLUMN `tableStats` JSON NULL;

-- AlterTable
ALTER TABLE `BackupArtifact` ADD COLUMN `verifyResult` ENUM('OK', 'CORRUPT', 'MISSING', 'MANIFEST_PROBLEM', 'UNREADABLE') NULL,
    ADD COLUMN `verifyDetail` TEXT NULL;

-- CreateTable
CREATE TABLE `Restore` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `backupId` INTEGER NULL,
    `storageTargetId` INTEGER NULL,
    `artifactKey` VARCHAR(1024) NOT NULL,
    `serverId` INTEGER NULL,
    `serverName` VARCHAR(100) NOT NULL,
    `engine` ENUM('MYSQL', 'MARIADB', 'POSTGRESQL') NOT NULL,
    `sourceDatabase` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `database` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `overwrite` BOOLEAN NOT NULL DEFAULT false,
    `createdDatabase` BOOLEAN NOT NULL DEFAULT false,
    `status` ENUM('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED') NOT NULL DEFAULT 'PENDING',
    `requestedBy` VARCHAR(150) NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `startedAt` DATETIME(3) NULL,
    `finishedAt` DATETIME(3) NULL,
    `durationMs` INTEGER NULL,
    `heartbeatAt` DATETIME(3) NULL,
    `cancelRequestedAt` DATETIME(3) NULL,
    `totalBytes` BIGINT NULL,
    `progressBytes` BIGINT NULL,
    `rawBytes` BIGINT NULL,
    `sha256` CHAR(64) NULL,
    `error` TEXT NULL,
    `logTail` TEXT NULL,
    `instanceId` VARCHAR(255) NULL,

    INDEX `Restore_backupId_idx`(`backupId`),
    INDEX `Restore_serverId_database_idx`(`serverId`, `database`),
    INDEX `Restore_storageTargetId_idx`(`storageTargetId`),
    INDEX `Restore_status_createdAt_idx`(`status`, `createdAt`),
    INDEX `Restore_createdAt_idx`(`createdAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `RestoreDrill` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `backupId` INTEGER NULL,
    `scheduleId` INTEGER NULL,
    `serverId` INTEGER NULL,
    `serverName` VARCHAR(100) NOT NULL,
    `sourceServerName` VARCHAR(100) NOT NULL,
    `database` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `scratchDatabase` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `trigger` ENUM('AFTER_BACKUP', 'CRON', 'MANUAL') NOT NULL,
    `status` ENUM('RUNNING', 'PASSED', 'FAILED') NOT NULL DEFAULT 'RUNNING',
    `baseline` ENUM('CAPTURED', 'LIVE_SOURCE', 'NONE') NULL,
    `requestedBy` VARCHAR(150) NOT NULL,
    `startedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `finishedAt` DATETIME(3) NULL,
    `restoreMs` INTEGER NULL,
    `durationMs` INTEGER NULL,
    `restoredBytes` BIGINT NULL,
    `details` JSON NULL,
    `error` TEXT NULL,
    `scratchDropped` BOOLEAN NOT NULL DEFAULT false,
    `instanceId` VARCHAR(255) NULL,

    INDEX `RestoreDrill_backupId_idx`(`backupId`),
    INDEX `RestoreDrill_scheduleId_idx`(`scheduleId`),
    INDEX `RestoreDrill_serverId_idx`(`serverId`),
    INDEX `RestoreDrill_sourceServerName_database_startedAt_idx`(`sourceServerName`, `database`, `startedAt`),
    INDEX `RestoreDrill_startedAt_idx`(`startedAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateIndex
CREATE INDEX `Schedule_drillServerId_idx` ON `Schedule`(`drillServerId`);

-- AddForeignKey
ALTER TABLE `Schedule` ADD CONSTRAINT `Schedule_drillServerId_fkey` FOREIGN KEY (`drillServerId`) REFERENCES `Server`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Restore` ADD CONSTRAINT `Restore_backupId_fkey` FOREIGN KEY (`backupId`) REFERENCES `Backup`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Restore` ADD CONSTRAINT `Restore_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Restore` ADD CONSTRAINT `Restore_storageTargetId_fkey` FOREIGN KEY (`storageTargetId`) REFERENCES `StorageTarget`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `RestoreDrill` ADD CONSTRAINT `RestoreDrill_backupId_fkey` FOREIGN KEY (`backupId`) REFERENCES `Backup`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `RestoreDrill` ADD CONSTRAINT `RestoreDrill_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `RestoreDrill` ADD CONSTRAINT `RestoreDrill_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;
