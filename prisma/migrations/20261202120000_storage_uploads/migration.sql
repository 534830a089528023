-- Writes to storage targets in progress (server/storage/upload-journal.ts): only recorded writes
-- whose writer is dead are cleaned up (partial files, incomplete S3 multipart uploads).

-- CreateTable
CREATE TABLE `StorageUpload` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `storageTargetId` INTEGER NOT NULL,
    `key` VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `uploadId` VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    `instanceId` VARCHAR(255) NOT NULL,
    `startedAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `heartbeatAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `StorageUpload_storageTargetId_heartbeatAt_idx`(`storageTargetId`, `heartbeatAt`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `StorageUpload` ADD CONSTRAINT `StorageUpload_storageTargetId_fkey` FOREIGN KEY (`storageTargetId`) REFERENCES `StorageTarget`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
