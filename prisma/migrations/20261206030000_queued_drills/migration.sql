-- Queued restore drills (issue 15, item 1): a drill requested on an api instance waits PENDING for a worker.

-- AlterTable
ALTER TABLE `RestoreDrill` MODIFY `status` ENUM('PENDING', 'RUNNING', 'PASSED', 'FAILED') NOT NULL DEFAULT 'RUNNING';
