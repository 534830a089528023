-- Login throttling (server/auth/login-throttle.ts): failed logins per user name and per client address.

-- CreateTable
CREATE TABLE `LoginThrottle` (
    `key` VARCHAR(191) NOT NULL,
    `failures` INTEGER NOT NULL,
    `lastFailureAt` DATETIME(3) NOT NULL,
    `lockedUntil` DATETIME(3) NULL,

    INDEX `LoginThrottle_lastFailureAt_idx`(`lastFailureAt`),
    PRIMARY KEY (`key`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
