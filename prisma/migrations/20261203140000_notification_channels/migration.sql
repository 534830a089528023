-- Notification channels, rules, incidents and the delivery log (server/notifications/).
-- The webhooks become channels of kind WEBHOOK or HEALTHCHECKS with one rule each (below).

-- AlterTable
ALTER TABLE `Webhook` ADD COLUMN `channelId` INTEGER NULL;

-- CreateTable
CREATE TABLE `NotificationChannel` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `kind` ENUM('EMAIL', 'SLACK', 'TEAMS', 'DISCORD', 'TELEGRAM', 'NTFY', 'WEBHOOK', 'HEALTHCHECKS') NOT NULL,
    `urlEnc` TEXT NULL,
    `legacyUrl` VARCHAR(2048) NULL,
    `urlHost` VARCHAR(255) NULL,
    `settings` JSON NOT NULL,
    `secretEnc` TEXT NULL,
    `weeklyReport` BOOLEAN NOT NULL DEFAULT false,
    `lastWeeklyReportAt` DATETIME(3) NULL,
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `NotificationChannel_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `NotificationRule` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `channelId` INTEGER NOT NULL,
    `events` JSON NOT NULL,
    `serverSelector` JSON NOT NULL,
    `scheduleIds` JSON NOT NULL,
    `quietMinutes` INTEGER NOT NULL DEFAULT 60,
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `NotificationRule_channelId_idx`(`channelId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `NotificationIncident` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `ruleId` INTEGER NOT NULL,
    `channelId` INTEGER NOT NULL,
    `serverName` VARCHAR(100) NOT NULL,
    `database` VARCHAR(255) NOT NULL,
    `openKey` VARCHAR(191) NULL,
    `openedAt` DATETIME(3) NOT NULL,
    `notifiedAt` DATETIME(3) NULL,
    `failures` INTEGER NOT NULL DEFAULT 1,
    `heldBack` INTEGER NOT NULL DEFAULT 0,
    `firstBackupId` INTEGER NULL,
    `lastError` TEXT NULL,
    `closedAt` DATETIME(3) NULL,

    UNIQUE INDEX `NotificationIncident_openKey_key`(`openKey`),
    INDEX `NotificationIncident_ruleId_idx`(`ruleId`),
    INDEX `NotificationIncident_channelId_idx`(`channelId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `NotificationDelivery` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `channelId` INTEGER NOT NULL,
    `ruleId` INTEGER NULL,
    `event` VARCHAR(32) NOT NULL,
    `serverName` VARCHAR(100) NULL,
    `database` VARCHAR(255) NULL,
    `backupId` INTEGER NULL,
    `summary` VARCHAR(1000) NOT NULL,
    `facts` JSON NOT NULL,
    `status` ENUM('PENDING', 'SENT', 'FAILED', 'SUPPRESSED') NOT NULL DEFAULT 'PENDING',
    `attempts` INTEGER NOT NULL DEFAULT 0,
    `lastError` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `finishedAt` DATETIME(3) NULL,

    INDEX `NotificationDelivery_channelId_createdAt_idx`(`channelId`, `createdAt`),
    INDEX `NotificationDelivery_createdAt_idx`(`createdAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `NotificationRule` ADD CONSTRAINT `NotificationRule_channelId_fkey` FOREIGN KEY (`channelId`) REFERENCES `NotificationChannel`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE `NotificationIncident` ADD CONSTRAINT `NotificationIncident_ruleId_fkey` FOREIGN KEY (`ruleId`) REFERENCES `NotificationRule`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE `NotificationIncident` ADD CONSTRAINT `NotificationIncident_channelId_fkey` FOREIGN KEY (`channelId`) REFERENCES `NotificationChannel`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE `NotificationDelivery` ADD CONSTRAINT `NotificationDelivery_channelId_fkey` FOREIGN KEY (`channelId`) REFERENCES `NotificationChannel`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- Data: every webhook becomes a channel (its URL sealed at the next start, its HMAC secret kept
-- sealed as it was) with one rule made of its flags (failures also covered failed drills; successes
-- included recoveries) and its schedule. quietMinutes 0 keeps their one-message-per-event behaviour.
INSERT INTO `NotificationChannel` (`name`, `kind`, `legacyUrl`, `settings`, `secretEnc`, `enabled`, `createdAt`, `updatedAt`)
SELECT `name`, IF(`format` = 'HEALTHCHECKS', 'HEALTHCHECKS', 'WEBHOOK'), `url`, '{}', `secretEnc`, `enabled`, `createdAt`, CURRENT_TIMESTAMP(3)
FROM `Webhook`;

INSERT INTO `NotificationRule` (`channelId`, `events`, `serverSelector`, `scheduleIds`, `quietMinutes`, `enabled`, `createdAt`, `updatedAt`)
SELECT c.`id`,
       CONCAT('[', CONCAT_WS(',',
         IF(w.`onFailure`, '"FAILURE","DRILL_FAILED"', NULL),
         IF(w.`onRecovery` OR w.`onSuccess`, '"RECOVERY"', NULL),
         IF(w.`onOverdue`, '"OVERDUE"', NULL),
         IF(w.`onSuccess`, '"SUCCESS"', NULL)), ']'),
       '{}',
       IF(w.`scheduleId` IS NULL, '[]', CONCAT('[', w.`scheduleId`, ']')),
       0, true, w.`createdAt`, CURRENT_TIMESTAMP(3)
FROM `Webhook` w JOIN `NotificationChannel` c ON c.`name` = w.`name`;

UPDATE `Webhook` w JOIN `NotificationChannel` c ON c.`name` = w.`name` SET w.`channelId` = c.`id`;
