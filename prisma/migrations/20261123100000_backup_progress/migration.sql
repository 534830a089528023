-- AlterTable
ALTER TABLE `Backup` ADD COLUMN `progressBytes` BIGINT NULL,
    ADD COLUMN `cancelRequestedAt` DATETIME(3) NULL;
