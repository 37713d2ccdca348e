#!/usr/bin/env bash
# Build Tern and run it on its embedded default configuration: a
# self-contained instance under ./var, listening on 127.0.0.1:2525, that
# delivers to Maildirs at var/mail/<local_part>/Maildir.
#
# On a fresh Debian 12, as root or as a user with sudo:
#     ./scripts/run-default.sh
#
# Environment (all optional):
#   VARDIR       where the instance lives (default: ./var)
#   TERN_PREFIX  use this existing installation; skip packages and build
#   TERN_PORT    listen on this port instead of 2525
#
# Who it runs as: a demo instance runs entirely as the user who starts it.
# As an ordinary user, tern runs as that user anyway (rootless).  As root,
# we pass -D TERN_USER=root rather than create a system user: the demo
# then changes nothing on the machine outside this directory, and root can
# receive mail because the embedded default's never_users is empty.  A
# real installation sets tern_user to a dedicated account (see README).
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=scripts/common.sh
. scripts/common.sh

VARDIR=${VARDIR:-$top/var}
if [ -n "${TERN_PREFIX:-}" ]; then
	prefix=$TERN_PREFIX
else
	mapfile -t pkgs < <(deps build)
	ensure_packages "${pkgs[@]}" swaks   # swaks: to send the demo a message
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j2
	cmake --install build --prefix build/stage
	prefix=$top/build/stage
fi

user=$(id -un)
port=${TERN_PORT:-2525}
mkdir -p "$VARDIR"
args=(-C @default -D "VARDIR=$VARDIR" -D "TERN_USER=$user")
if [ -n "${TERN_PORT:-}" ]; then
	args+=(-oX "$port")
fi

tern=("$prefix/bin/tern" "${args[@]}")
version=$("${tern[@]}" -bV 2>/dev/null | sed -n 's/^Tern version //p' || true)
logfile=$("${tern[@]}" -bP log_file_path 2>/dev/null |
	sed -n 's/^log_file_path = //p' | sed 's/%s/main/' || true)
[ -n "$logfile" ] || logfile="$VARDIR (see: tern -bP log_file_path)"

cat <<MSG

Tern ${version:-(unknown version)} starting on 127.0.0.1:$port
(instance in $VARDIR, running as $user).  Send it a message from
another terminal:

    swaks --server 127.0.0.1:$port --to $user@localhost

  or, without swaks:

    python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", $port).sendmail("me@example.net", ["$user@localhost"], "Subject: hello\n\nHello, Tern.\n")'

It lands in $VARDIR/mail/$user/Maildir/new/
Log:   $logfile
Queue: ${tern[*]} -bp
Stop with Ctrl-C.

MSG
exec "${tern[@]}" -bdf
