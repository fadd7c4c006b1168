-- Default schema of the db_reg_agent README: the accounts (subscribers) and their
-- registration status (registrations). Column names and types are the README's;
-- the daemon writes only `registrations`.
-- Idempotent. Load into the configured database (mysql_db), e.g.
--   mysql -h 127.0.0.1 -u root sems < sql/schema.sql
-- Use either this file or schema-sipwise.sql for one database, not both.

CREATE TABLE IF NOT EXISTS `registrations` (
  `subscriber_id` int(11) NOT NULL,
  -- 0 INACTIVE, 1 PENDING, 2 ACTIVE, 3 FAILED, 4 REMOVED, 5 TO_BE_REMOVED
  `registration_status` tinyint(1) NOT NULL DEFAULT '0',
  -- DATETIME on the database clock (NOW()); no time zone is stored.
  `last_registration` datetime,
  `expiry` datetime,
  `last_code` smallint(2),
  `last_reason` varchar(256),
  `contacts` varchar(512),
  PRIMARY KEY (`subscriber_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- user/pass/realm keep the README's ascii_bin: byte-exact, case-sensitive values.
CREATE TABLE IF NOT EXISTS `subscribers` (
  `subscriber_id` int(10) NOT NULL AUTO_INCREMENT,
  `user` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `pass` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `realm` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `contact` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (`subscriber_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 AUTO_INCREMENT=2;

-- The matching joined_query (db_reg_agent.conf):
--   select subscribers.subscriber_id as subscriber_id, subscribers.user as user,
--     subscribers.pass as pass, subscribers.realm as realm, subscribers.contact as contact,
--     registrations.registration_status as registration_status,
--     registrations.expiry as expiry, registrations.last_registration as last_registration
--   from subscribers left join registrations
--     on subscribers.subscriber_id = registrations.subscriber_id;
