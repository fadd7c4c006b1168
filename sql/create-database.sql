-- The database and the account the shipped configuration (etc/) uses.
-- Idempotent: safe to run again on a machine that already has them.
-- Run as an administrative user:  mysql -h 127.0.0.1 -u root < sql/create-database.sql

CREATE DATABASE IF NOT EXISTS `sems` DEFAULT CHARACTER SET utf8mb4;

-- Both host forms: 'localhost' matches the Unix socket, '127.0.0.1' matches TCP
-- over loopback when the server does not resolve host names.
CREATE USER IF NOT EXISTS 'sems'@'localhost' IDENTIFIED BY 'sems';
CREATE USER IF NOT EXISTS 'sems'@'127.0.0.1' IDENTIFIED BY 'sems';
-- Re-running resets the password to the documented one.
ALTER USER 'sems'@'localhost' IDENTIFIED BY 'sems';
ALTER USER 'sems'@'127.0.0.1' IDENTIFIED BY 'sems';

-- The daemon only reads the accounts and writes the registrations table;
-- provisioning (and schema changes) stay with the administrative user.
GRANT SELECT, INSERT, UPDATE, DELETE ON `sems`.* TO 'sems'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `sems`.* TO 'sems'@'127.0.0.1';
