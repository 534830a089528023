-- Point-in-time recovery (server/pitr): per-server binlog archiving settings, the archive chain's
-- lease and state, and one row per archived binlog file.

-- AlterTable
ALTER TABLE `Server` ADD COLUMN `pitrEnabled` BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN `pitrRpoSeconds` INTEGER NOT NULL DEFAULT 60,
    ADD COLUMN `pitrStorageTargetIds` JSON NULL;

-- AlterTable
ALTER TABLE `Restore` ADD COLUMN `pointInTime` DATETIME(3) NULL,
    ADD COLUMN `pointInTimeForce` BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE `PitrStream` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `serverId` INTEGER NOT NULL,
    `leaseOwner` VARCHAR(100) NULL,
    `leaseUntil` DATETIME(3) NULL,
    `sourceServerId` INTEGER NULL,
    `sourceIdentity` VARCHAR(100) NULL,
    `lastFile` VARCHAR(255) NULL,
    `lastArchivedAt` DATETIME(3) NULL,
    `lastEventAt` DATETIME(3) NULL,
    `brokenAt` DATETIME(3) NULL,
    `brokenFromFile` VARCHAR(255) NULL,
    `brokenReason` VARCHAR(1000) NULL,
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `PitrStream_serverId_key`(`serverId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `PitrArchive` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `serverId` INTEGER NOT NULL,
    `file` VARCHAR(255) NOT NULL,
    `partial` BOOLEAN NOT NULL DEFAULT false,
    `sourceServerId` INTEGER NOT NULL,
    `sourceIdentity` VARCHAR(100) NOT NULL,
    `firstEventAt` DATETIME(3) NULL,
    `lastEventAt` DATETIME(3) NULL,
    `gtidListAtStart` VARCHAR(1000) NULL,
    `lastGtid` VARCHAR(1000) NULL,
    `gtidStateAtEnd` VARCHAR(1000) NULL,
    `endPosition` BIGINT NOT NULL,
    `sizeBytes` BIGINT NOT NULL,
    `storedBytes` BIGINT NOT NULL,
    `sha256` CHAR(64) NOT NULL,
    `key` VARCHAR(1024) NOT NULL,
    `storageTargetIds` JSON NOT NULL,
    `breakReason` VARCHAR(1000) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `PitrArchive_serverId_file_key`(`serverId`, `file`),
    INDEX `PitrArchive_serverId_firstEventAt_idx`(`serverId`, `firstEventAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `PitrStream` ADD CONSTRAINT `PitrStream_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `PitrArchive` ADD CONSTRAINT `PitrArchive_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
