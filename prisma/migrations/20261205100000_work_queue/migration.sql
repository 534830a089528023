-- The work queue (server/queue/): PENDING backups are claimed by whichever instance has a free
-- slot; the claim reads the queue by status and server, and counts a server's RUNNING rows.
-- CreateIndex
CREATE INDEX `Backup_status_serverId_idx` ON `Backup`(`status`, `serverId`);

-- Singleton duties (schedule ticks, retention sweeps): one instance holds each lease at a time and
-- renews it; another takes it over once `expiresAt` has passed.
-- CreateTable
CREATE TABLE `Lease` (
    `name` VARCHAR(64) NOT NULL,
    `holder` VARCHAR(255) NOT NULL,
    `expiresAt` DATETIME(3) NOT NULL,
    `updatedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    PRIMARY KEY (`name`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- Fair order across servers: a claim serves the server whose last claim is oldest first.
-- AlterTable
ALTER TABLE `Server` ADD COLUMN `queueClaimedAt` DATETIME(3) NULL;
