-- A rewrap (server/encryption/rewrap.ts) pins the artifact it rewrites, so retention never deletes it meanwhile.

-- AlterTable
ALTER TABLE `ArtifactPin` MODIFY `ownerKind` ENUM('RESTORE', 'VERIFICATION', 'DRILL', 'REWRAP') NOT NULL;
