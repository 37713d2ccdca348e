/*
 * The embedded default configuration (tern -C @default, and the README's
 * run command): a self-contained instance under VARDIR that listens on
 * 127.0.0.1:2525 and delivers local mail to Maildirs under VARDIR/mail.
 */
#include "config/config.h"

const char config_embedded_default[] =
	"# Tern embedded default configuration.\n"
	"# Override the macros with -D VARDIR=/some/dir -D TERN_USER=name.\n"
	"\n"
	"VARDIR = /var/tmp/tern\n"
	"TERN_USER = tern\n"
	"\n"
	"spool_directory = VARDIR/spool\n"
	"log_file_path = VARDIR/log/%slog\n"
	"tern_user = TERN_USER\n"
	"daemon_smtp_ports = 2525\n"
	"local_interfaces = 127.0.0.1\n"
	"local_domains = @ : localhost : localhost.localdomain\n"
	"# A demonstration instance: it may deliver as root.\n"
	"never_users =\n"
	"relay_from_hosts = <; 127.0.0.1 ; ::1\n"
	"\n"
	"begin transports\n"
	"\n"
	"local_maildir:\n"
	"  driver = appendfile\n"
	"  directory = VARDIR/mail/$local_part/Maildir\n"
	"  maildir_format\n"
	"  create_directory\n"
	"  delivery_date_add\n"
	"  envelope_to_add\n"
	"  return_path_add\n"
	"\n"
	"begin directors\n"
	"\n"
	"localuser:\n"
	"  driver = localuser\n"
	"  transport = local_maildir\n";
