-- AlterTable: a schedule may select its servers by label (server/config-as-code, issue 14); NULL = no label selector.
ALTER TABLE `Schedule` ADD COLUMN `serverLabels` JSON NULL;
