-- AlterTable
ALTER TABLE `Server` ADD COLUMN `allowPublicKeyRetrieval` BOOLEAN NOT NULL DEFAULT true;
