-- PostgreSQL PITR: the replication slot's wal_status when it is not `reserved` (Server.pitr.warning).
ALTER TABLE `PitrStream` ADD COLUMN `warning` VARCHAR(1000) NULL;
