-- SQLGuard initial schema, written by hand in the DDL `prisma migrate dev` emits for MySQL.
-- `Backup`.`database` uses a binary collation: database names are case- and accent-sensitive.

-- CreateTable
CREATE TABLE `Server` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `engine` ENUM('MYSQL', 'MARIADB', 'POSTGRESQL') NOT NULL,
    `host` VARCHAR(255) NOT NULL,
    `port` INTEGER NOT NULL,
    `username` VARCHAR(128) NOT NULL,
    `passwordEnc` TEXT NULL,
    `tls` BOOLEAN NOT NULL DEFAULT false,
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `labels` JSON NOT NULL,
    `includeDatabases` JSON NOT NULL,
    `excludeDatabases` JSON NOT NULL,
    `maxConcurrent` INTEGER NOT NULL DEFAULT 1,
    `dumpOptionsId` INTEGER NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `Server_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `DumpOptions` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `description` VARCHAR(500) NULL,
    `singleTransaction` BOOLEAN NOT NULL DEFAULT true,
    `quick` BOOLEAN NOT NULL DEFAULT true,
    `routines` BOOLEAN NOT NULL DEFAULT true,
    `triggers` BOOLEAN NOT NULL DEFAULT true,
    `events` BOOLEAN NOT NULL DEFAULT true,
    `hexBlob` BOOLEAN NOT NULL DEFAULT true,
    `setGtidPurged` ENUM('AUTO', 'ON', 'OFF') NULL,
    `columnStatistics` BOOLEAN NULL,
    `pgFormat` ENUM('PLAIN', 'CUSTOM') NOT NULL DEFAULT 'PLAIN',
    `noOwner` BOOLEAN NOT NULL DEFAULT true,
    `noPrivileges` BOOLEAN NOT NULL DEFAULT false,
    `mysqlExtraFlags` JSON NOT NULL,
    `pgExtraFlags` JSON NOT NULL,
    `compression` ENUM('ZSTD', 'GZIP', 'NONE') NOT NULL DEFAULT 'ZSTD',
    `compressionLevel` INTEGER NOT NULL DEFAULT 3,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `DumpOptions_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `StorageTarget` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `kind` ENUM('LOCAL', 'S3') NOT NULL,
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `isDefault` BOOLEAN NOT NULL DEFAULT false,
    `path` VARCHAR(1024) NULL,
    `bucket` VARCHAR(255) NULL,
    `region` VARCHAR(64) NULL,
    `endpoint` VARCHAR(1024) NULL,
    `prefix` VARCHAR(512) NOT NULL DEFAULT '',
    `forcePathStyle` BOOLEAN NOT NULL DEFAULT true,
    `accessKeyId` VARCHAR(255) NULL,
    `secretAccessKeyEnc` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `StorageTarget_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `Schedule` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `description` VARCHAR(500) NULL,
    `cronExpression` VARCHAR(120) NOT NULL,
    `timezone` VARCHAR(64) NOT NULL DEFAULT 'UTC',
    `enabled` BOOLEAN NOT NULL DEFAULT true,
    `missedRunPolicy` ENUM('RUN_ONCE', 'SKIP') NOT NULL DEFAULT 'RUN_ONCE',
    `lastDueAt` DATETIME(3) NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `Schedule_name_key`(`name`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `ScheduleServer` (
    `scheduleId` INTEGER NOT NULL,
    `serverId` INTEGER NOT NULL,

    INDEX `ScheduleServer_serverId_idx`(`serverId`),
    PRIMARY KEY (`scheduleId`, `serverId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `ScheduleStorageTarget` (
    `scheduleId` INTEGER NOT NULL,
    `storageTargetId` INTEGER NOT NULL,

    INDEX `ScheduleStorageTarget_storageTargetId_idx`(`storageTargetId`),
    PRIMARY KEY (`scheduleId`, `storageTargetId`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `RetentionRule` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `scheduleId` INTEGER NOT NULL,
    `storageTargetId` INTEGER NOT NULL,
    `keepForever` BOOLEAN NOT NULL DEFAULT false,
    `maxAgeDays` INTEGER NULL,
    `keepLast` INTEGER NULL,
    `gfsHourly` INTEGER NULL,
    `gfsDaily` INTEGER NULL,
    `gfsWeekly` INTEGER NULL,
    `gfsMonthly` INTEGER NULL,
    `gfsYearly` INTEGER NULL,
    `minKeep` INTEGER NOT NULL DEFAULT 1,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    INDEX `RetentionRule_storageTargetId_idx`(`storageTargetId`),
    UNIQUE INDEX `RetentionRule_scheduleId_storageTargetId_key`(`scheduleId`, `storageTargetId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `Backup` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `serverId` INTEGER NULL,
    `serverName` VARCHAR(100) NOT NULL,
    `engine` ENUM('MYSQL', 'MARIADB', 'POSTGRESQL') NOT NULL,
    `database` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `scheduleId` INTEGER NULL,
    `scheduleName` VARCHAR(100) NULL,
    `trigger` ENUM('SCHEDULED', 'MANUAL', 'CATCH_UP') NOT NULL,
    `dueAt` DATETIME(3) NULL,
    `status` ENUM('PENDING', 'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED', 'DELETED', 'SKIPPED') NOT NULL DEFAULT 'PENDING',
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `startedAt` DATETIME(3) NULL,
    `finishedAt` DATETIME(3) NULL,
    `heartbeatAt` DATETIME(3) NULL,
    `durationMs` INTEGER NULL,
    `rawBytes` BIGINT NULL,
    `storedBytes` BIGINT NULL,
    `compression` ENUM('ZSTD', 'GZIP', 'NONE') NOT NULL,
    `sha256` CHAR(64) NULL,
    `serverVersion` VARCHAR(255) NULL,
    `tool` VARCHAR(1024) NULL,
    `position` JSON NULL,
    `error` TEXT NULL,
    `logTail` TEXT NULL,
    `attempt` INTEGER NOT NULL DEFAULT 1,
    `instanceId` VARCHAR(255) NULL,

    INDEX `Backup_serverId_database_createdAt_idx`(`serverId`, `database`, `createdAt`),
    INDEX `Backup_status_createdAt_idx`(`status`, `createdAt`),
    INDEX `Backup_createdAt_idx`(`createdAt`),
    UNIQUE INDEX `Backup_scheduleId_serverId_database_dueAt_key`(`scheduleId`, `serverId`, `database`, `dueAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `BackupArtifact` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `backupId` INTEGER NOT NULL,
    `storageTargetId` INTEGER NULL,
    `key` VARCHAR(1024) NOT NULL,
    `status` ENUM('PENDING', 'STORED', 'FAILED', 'DELETED', 'CORRUPT', 'MISSING') NOT NULL DEFAULT 'PENDING',
    `sizeBytes` BIGINT NULL,
    `storedAt` DATETIME(3) NULL,
    `deletedAt` DATETIME(3) NULL,
    `verifiedAt` DATETIME(3) NULL,
    `error` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `BackupArtifact_storageTargetId_status_idx`(`storageTargetId`, `status`),
    UNIQUE INDEX `BackupArtifact_backupId_storageTargetId_key`(`backupId`, `storageTargetId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `User` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `username` VARCHAR(100) NOT NULL,
    `passwordHash` VARCHAR(255) NOT NULL,
    `role` ENUM('ADMIN', 'OPERATOR', 'VIEWER') NOT NULL,
    `disabled` BOOLEAN NOT NULL DEFAULT false,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updatedAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `User_username_key`(`username`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `Session` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `tokenHash` CHAR(64) NOT NULL,
    `userId` INTEGER NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `expiresAt` DATETIME(3) NOT NULL,

    UNIQUE INDEX `Session_tokenHash_key`(`tokenHash`),
    INDEX `Session_userId_idx`(`userId`),
    INDEX `Session_expiresAt_idx`(`expiresAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `ApiToken` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `name` VARCHAR(100) NOT NULL,
    `tokenHash` CHAR(64) NOT NULL,
    `prefix` VARCHAR(16) NOT NULL,
    `role` ENUM('ADMIN', 'OPERATOR', 'VIEWER') NOT NULL,
    `userId` INTEGER NOT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `lastUsedAt` DATETIME(3) NULL,
    `expiresAt` DATETIME(3) NULL,
    `revokedAt` DATETIME(3) NULL,

    UNIQUE INDEX `ApiToken_tokenHash_key`(`tokenHash`),
    INDEX `ApiToken_userId_idx`(`userId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `AuditLog` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `actor` VARCHAR(150) NOT NULL,
    `action` VARCHAR(100) NOT NULL,
    `entityType` VARCHAR(50) NOT NULL,
    `entityId` VARCHAR(50) NULL,
    `before` JSON NULL,
    `after` JSON NULL,

    INDEX `AuditLog_at_idx`(`at`),
    INDEX `AuditLog_entityType_entityId_idx`(`entityType`, `entityId`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `Server` ADD CONSTRAINT `Server_dumpOptionsId_fkey` FOREIGN KEY (`dumpOptionsId`) REFERENCES `DumpOptions`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ScheduleServer` ADD CONSTRAINT `ScheduleServer_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ScheduleServer` ADD CONSTRAINT `ScheduleServer_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ScheduleStorageTarget` ADD CONSTRAINT `ScheduleStorageTarget_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ScheduleStorageTarget` ADD CONSTRAINT `ScheduleStorageTarget_storageTargetId_fkey` FOREIGN KEY (`storageTargetId`) REFERENCES `StorageTarget`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `RetentionRule` ADD CONSTRAINT `RetentionRule_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `RetentionRule` ADD CONSTRAINT `RetentionRule_storageTargetId_fkey` FOREIGN KEY (`storageTargetId`) REFERENCES `StorageTarget`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Backup` ADD CONSTRAINT `Backup_serverId_fkey` FOREIGN KEY (`serverId`) REFERENCES `Server`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Backup` ADD CONSTRAINT `Backup_scheduleId_fkey` FOREIGN KEY (`scheduleId`) REFERENCES `Schedule`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `BackupArtifact` ADD CONSTRAINT `BackupArtifact_backupId_fkey` FOREIGN KEY (`backupId`) REFERENCES `Backup`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `BackupArtifact` ADD CONSTRAINT `BackupArtifact_storageTargetId_fkey` FOREIGN KEY (`storageTargetId`) REFERENCES `StorageTarget`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `Session` ADD CONSTRAINT `Session_userId_fkey` FOREIGN KEY (`userId`) REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `ApiToken` ADD CONSTRAINT `ApiToken_userId_fkey` FOREIGN KEY (`userId`) REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
