-- Point-in-time drills and restores to a GTID or binlog position (issue 17, items 4 and 7).

-- AlterTable
ALTER TABLE `Restore` ADD COLUMN `stopAtGtid` VARCHAR(100) NULL,
    ADD COLUMN `stopAtPosition` VARCHAR(300) NULL;

-- AlterTable
ALTER TABLE `Schedule` ADD COLUMN `drillPitr` BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE `RestoreDrill` MODIFY `baseline` ENUM('CAPTURED', 'LIVE_SOURCE', 'NONE', 'CHECKPOINT') NULL,
    ADD COLUMN `kind` ENUM('DUMP', 'PITR') NOT NULL DEFAULT 'DUMP',
    ADD COLUMN `checkpointId` INTEGER NULL,
    ADD COLUMN `pointInTime` DATETIME(3) NULL,
    ADD COLUMN `stopAtPosition` VARCHAR(300) NULL;

-- CreateTable
CREATE TABLE `PitrCheckpoint` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `serverId` INTEGER NOT NULL,
    `database` VARCHAR(255) NOT NULL,
    `binlogFile` VARCHAR(255) NOT NULL,
    `binlogPosition` BIGINT NOT NULL,
    `takenAt` DATETIME(3) NOT NULL,
    `tableRows` JSON NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `PitrCheckpoint_serverId_database_takenAt_idx`(`serverId`, `database`, `takenAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `PitrCheckpoint` ADD CONSTRAINT `PitrCheckpoint_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
