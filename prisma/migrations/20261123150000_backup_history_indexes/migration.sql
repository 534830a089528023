-- The backup history is read newest first (ORDER BY createdAt DESC, id DESC, keyset pagination)
-- under filters on server, schedule and storage target.
-- CreateIndex
CREATE INDEX `Backup_serverId_createdAt_idx` ON `Backup`(`serverId`, `createdAt`);

-- CreateIndex
CREATE INDEX `Backup_scheduleId_createdAt_idx` ON `Backup`(`scheduleId`, `createdAt`);

-- CreateIndex
CREATE INDEX `BackupArtifact_storageTargetId_backupId_idx` ON `BackupArtifact`(`storageTargetId`, `backupId`);

-- The dashboard's last success / failure per database: a loose index scan per status.
-- CreateIndex
CREATE INDEX `Backup_status_serverId_database_startedAt_idx` ON `Backup`(`status`, `serverId`, `database`, `startedAt`);
