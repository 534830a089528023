-- Queued verification (issue 15): `verifyBackup` on an `api` instance records the request on each
-- artifact; an instance that runs jobs claims it (verifyClaimedBy until verifyClaimExpiresAt, renewed
-- while it reads), verifies and clears it. A claim whose instance died lapses and is taken again.

-- AlterTable
ALTER TABLE `BackupArtifact` ADD COLUMN `verifyRequestedAt` DATETIME(3) NULL,
    ADD COLUMN `verifyClaimedBy` VARCHAR(191) NULL,
    ADD COLUMN `verifyClaimExpiresAt` DATETIME(3) NULL;

-- CreateIndex
CREATE INDEX `BackupArtifact_verifyRequestedAt_idx` ON `BackupArtifact`(`verifyRequestedAt`);
