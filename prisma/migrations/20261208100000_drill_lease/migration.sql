-- A restore drill's lease (issue 15): its instance renews heartbeatAt while the drill runs, and any
-- instance settles a RUNNING drill whose lease expired (its instance died and never came back).

-- AlterTable
ALTER TABLE `RestoreDrill` ADD COLUMN `heartbeatAt` DATETIME(3) NULL;
