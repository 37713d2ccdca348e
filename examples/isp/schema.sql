-- Tern virtual-ISP example: the MySQL/MariaDB schema and some data.
-- mysql mail < schema.sql   (see docs/isp.md)
--
-- The mail server needs only SELECT:
--   CREATE USER 'tern'@'localhost' IDENTIFIED BY 'secret';
--   GRANT SELECT ON mail.* TO 'tern'@'localhost';

CREATE TABLE domains (
  name        VARCHAR(255) NOT NULL PRIMARY KEY
) DEFAULT CHARSET=utf8mb4;

-- One row per mailbox.  maildir is relative to VMAIL_DIR; quota is an
-- appendfile size ("50M", "0" for none); password is what AUTH PLAIN
-- compares $auth3 with (store a hash and compare with ${if crypteq}
-- once Tern has it; see docs/isp.md).
CREATE TABLE users (
  local_part  VARCHAR(64)  NOT NULL,
  domain      VARCHAR(255) NOT NULL,
  password    VARCHAR(255) NOT NULL,
  maildir     VARCHAR(255) NOT NULL,
  quota       VARCHAR(16)  NOT NULL DEFAULT '0',
  PRIMARY KEY (local_part, domain),
  FOREIGN KEY (domain) REFERENCES domains (name)
) DEFAULT CHARSET=utf8mb4;

-- Aliases: target is one or more addresses, comma-separated.  The local
-- part '*' is the domain's catch-all, used when nothing else matched.
CREATE TABLE aliases (
  local_part  VARCHAR(64)  NOT NULL,
  domain      VARCHAR(255) NOT NULL,
  target      TEXT         NOT NULL,
  PRIMARY KEY (local_part, domain),
  FOREIGN KEY (domain) REFERENCES domains (name)
) DEFAULT CHARSET=utf8mb4;

INSERT INTO domains VALUES ('example.org'), ('example.net');

INSERT INTO users VALUES
  ('alice', 'example.org', 'alice-secret', 'example.org/alice/Maildir', '0'),
  ('bob',   'example.org', 'bob-secret',   'example.org/bob/Maildir',   '2K'),
  ('carol', 'example.net', 'carol-secret', 'example.net/carol/Maildir', '0');

INSERT INTO aliases VALUES
  ('info',       'example.org', 'alice@example.org'),
  ('sales',      'example.org', 'alice@example.org, bob@example.org'),
  ('*',          'example.net', 'carol@example.net');
