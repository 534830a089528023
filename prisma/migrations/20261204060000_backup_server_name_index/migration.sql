-- The per-database page (server/backups/database-detail.service.ts) reads a database's backups by
-- server name: a deleted server's backups keep its name (serverId becomes NULL), and stay findable by it.

-- CreateIndex
CREATE INDEX `Backup_serverName_database_createdAt_idx` ON `Backup`(`serverName`, `database`, `createdAt`);
