-- Acknowledged database problems (server/backups/acknowledgements.ts): an operator acknowledged a
-- FAILING, OVERDUE or DEGRADED state (a database dropped on purpose); the dashboard shows it as
-- ACKNOWLEDGED until a run newer than the acknowledgement.

-- CreateTable
CREATE TABLE `DatabaseAcknowledgement` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `serverId` INTEGER NOT NULL,
    `database` VARCHAR(255) NOT NULL,
    `acknowledgedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `acknowledgedBy` VARCHAR(150) NOT NULL,
    `note` VARCHAR(500) NULL,

    UNIQUE INDEX `DatabaseAcknowledgement_serverId_database_key`(`serverId`, `database`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `DatabaseAcknowledgement` ADD CONSTRAINT `DatabaseAcknowledgement_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
