-- What a backup left out or did not take consistently (Backup.warnings in GraphQL): a JSON array of sentences.
ALTER TABLE `Backup` ADD COLUMN `warnings` JSON NULL;
