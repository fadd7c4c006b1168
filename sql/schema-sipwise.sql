-- Schema of the sipwise db_reg_agent variant: subscribers AND peerings register,
-- both keep their status in the one `registrations` table, told apart by the key
-- column that is set: `subscriber_id` for subscribers, `peer_host_id` for peerings
-- (sipwise DBRegAgent: createDBRegistration/updateDBRegistration pick the column by
-- type). `auth_user` (optional) is the digest user when it differs from `user`;
-- NULL or empty means "same as user".
-- Idempotent. Use either this file or schema.sql for one database, not both.

CREATE TABLE IF NOT EXISTS `registrations` (
  -- Surrogate key: a row belongs to a subscriber OR to a peering.
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `subscriber_id` int(11) DEFAULT NULL,
  `peer_host_id` int(11) DEFAULT NULL,
  -- 0 INACTIVE, 1 PENDING, 2 ACTIVE, 3 FAILED, 4 REMOVED, 5 TO_BE_REMOVED
  `registration_status` tinyint(1) NOT NULL DEFAULT '0',
  `last_registration` datetime,
  `expiry` datetime,
  `last_code` smallint(2),
  `last_reason` varchar(256),
  `contacts` varchar(512),
  PRIMARY KEY (`id`),
  -- One status row per account; NULLs do not collide, so each key column can be
  -- unique on its own. INSERT IGNORE of just the key relies on these.
  UNIQUE KEY `registrations_subscriber_id` (`subscriber_id`),
  UNIQUE KEY `registrations_peer_host_id` (`peer_host_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `subscribers` (
  `subscriber_id` int(10) NOT NULL AUTO_INCREMENT,
  `user` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `auth_user` varchar(256) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,
  `pass` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `realm` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `contact` varchar(256) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,
  PRIMARY KEY (`subscriber_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `peerings` (
  `peer_host_id` int(10) NOT NULL AUTO_INCREMENT,
  `user` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `auth_user` varchar(256) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,
  `pass` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `realm` varchar(256) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `contact` varchar(256) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,
  PRIMARY KEY (`peer_host_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The matching queries (db_reg_agent.conf):
--   joined_query_subscribers = select s.subscriber_id as subscriber_id, s.user as user,
--     s.auth_user as auth_user, s.pass as pass, s.realm as realm, s.contact as contact,
--     r.registration_status as registration_status, r.expiry as expiry,
--     r.last_registration as last_registration
--   from subscribers s left join registrations r on r.subscriber_id = s.subscriber_id
--
--   joined_query_peerings = select p.peer_host_id as peer_host_id, p.user as user,
--     p.auth_user as auth_user, p.pass as pass, p.realm as realm, p.contact as contact,
--     r.registration_status as registration_status, r.expiry as expiry,
--     r.last_registration as last_registration
--   from peerings p left join registrations r on r.peer_host_id = p.peer_host_id
