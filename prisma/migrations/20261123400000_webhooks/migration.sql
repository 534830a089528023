-- Webhook notifications (server/notifications/): generic signed JSON or healthchecks.io-style pings.

-- CreateTable
CREATE TABLE `Webhook` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `url` VARCHAR(2048) NOT NULL,
    `secretEnc` TEXT NULL,
    `format` ENUM('GENERIC', 'HEALTHCHECKS') NOT NULL DEFAULT 'GENERIC',
    `onFailure` BOOLEAN NOT NULL DEFAULT true,
    `onRecovery` BOOLEAN NOT NULL DEFAULT true,
    `onOverdue` BOOLEAN NOT NULL DEFAULT true,
    `onSuccess` BOOLEAN NOT NULL DEFAULT false,
    `scheduleId` INTEGER NULL,
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `Webhook_scheduleId_idx`(`scheduleId`),
    UNIQUE INDEX `Webhook_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `Webhook` ADD CONSTRAINT `Webhook_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
