-- A few accounts for a registrar on 127.0.0.1:5070 (e.g. the test registrar).
-- Idempotent: fixed ids with INSERT IGNORE, so re-running adds nothing and keeps
-- edits made since. Load after schema.sql into the configured database.

INSERT IGNORE INTO `subscribers` (`subscriber_id`, `user`, `pass`, `realm`, `contact`) VALUES
  (1, 'alice', 'alice-secret', '127.0.0.1:5070', ''),
  (2, 'bob',   'bob-secret',   '127.0.0.1:5070', ''),
  (3, 'carol', 'carol-secret', '127.0.0.1:5070', ''),
  (4, 'dave',  'dave-secret',  '127.0.0.1:5070', 'sip:dave@127.0.0.1:5080'),
  (5, 'erin',  'erin-secret',  '127.0.0.1:5070', '');
