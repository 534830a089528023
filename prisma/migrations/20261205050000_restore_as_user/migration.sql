-- A restore may run as another account than the server's backup user (its password is never
-- stored: the process that accepted the restore holds it in memory while the restore runs), and
-- may rewrite the dump's DEFINERs (MySQL/MariaDB) or drop its OWNER TO statements (PostgreSQL).

-- AlterTable
ALTER TABLE `Restore` ADD COLUMN `restoreUser` VARCHAR(150) NULL,
    ADD COLUMN `rewriteDefiners` BOOLEAN NOT NULL DEFAULT false;
