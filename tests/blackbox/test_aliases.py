"""The aliasfile director: lists, pipes, files, :fail:, :blackhole:,
:include:, nesting, loops."""

import os
import re

import pytest

from tern_helpers import LOG_HEAD, STANDARD_ALIASES, STANDARD_CONFIG, \
    make_message, \
    read_mbox, split_message

RECORD = """#!/bin/sh
# a pipe command: append the message to the file named by $1
cat >> "$1"
"""


def aliases(tern, extra):
    tern.config(aliases=STANDARD_ALIASES + extra)


def test_alias_to_two_users_pipe_and_file(tern):
    tern.script("record", RECORD)
    aliases(tern, 'team: alice, @USER@, "|@DIR@/bin/record @DIR@/out/pipe", '
                  '@DIR@/out/team.mbox\n')
    tern.start_daemon()
    body = b"to the whole team\n"
    assert tern.send("team@test.example",
                     make_message(to="team@test.example", subject="team",
                                  body=body)) == {}
    tern.wait_queue_empty()
    for raw in (tern.mbox("alice")[0], tern.mbox(tern.user)[0],
                read_mbox(tern.path("out", "team.mbox"))[0]):
        hdrs, got = split_message(raw)
        assert got == body and hdrs["Subject"] == "team"
    assert len(tern.mbox("alice")) == 1
    piped = tern.path("out", "pipe").read_bytes()
    head, _, rest = piped.partition(b"\n\n")
    assert b"\nSubject: team\n" in head, piped
    # the pipe transport may add a From_ line and a blank line, as Exim's
    assert rest.rstrip(b"\n") == body.rstrip(b"\n"), piped
    (msgid,) = tern.arrivals()
    assert len(tern.deliveries(msgid)) == 4, tern.deliveries(msgid)


@pytest.mark.parametrize("kind,code,what", [
    (":fail:", 550, "rejected"), (":defer:", 451, "temporarily rejected")])
def test_fail_and_defer_texts_reach_the_client_at_rcpt(tern, kind, code,
                                                        what):
    aliases(tern, f"gone: {kind} Gone away, write to carol instead\n")
    tern.start_daemon()
    with tern.smtp() as s:
        assert s.mail("sender@example.net")[0] == 250
        got, text = s.rcpt("gone@test.example")
        assert got == code, text
        assert b"Gone away, write to carol instead" in text
    assert tern.queue_ids() == []
    assert re.search(r"> " + what + r" RCPT <gone@test\.example>: "
                     r"Gone away", tern.rejectlog())


@pytest.mark.parametrize("details", [False, True])
def test_internal_error_goes_to_the_log_and_to_the_client_on_request(
        tern, details):
    """A director's own error names files (and, for a lookup, servers):
    the SMTP client gets a generic 451 unless smtp_return_error_details
    is set; the reject log has the whole text either way."""
    tern.config(main="smtp_verify = true\nsmtp_return_error_details = "
                + ("true" if details else "false"), aliases=STANDARD_ALIASES)
    tern.start_daemon()
    path = str(tern.path("aliases"))
    tern.path("aliases").chmod(0)
    with tern.smtp() as s:
        assert s.mail("sender@example.net")[0] == 250
        replies = [s.rcpt("anyone@test.example"),
                   s.verify("anyone@test.example")]
    for code, text in replies:
        assert code == 451, text
        assert (path.encode() in text) == details, text
        assert (b"director system_aliases: " in text) == details, text
    if not details:
        assert b"temporarily unable to verify the address" in replies[0][1]
    for cmd in ("RCPT", "VRFY"):
        assert re.search(r"temporarily rejected " + cmd +
                         r" <anyone@test\.example>: director system_aliases: "
                         r".*" + re.escape(path), tern.rejectlog()), cmd


def test_sender_verify_defer_shows_the_defer_text(tern):
    tern.config(main="sender_verify = true",
                aliases=STANDARD_ALIASES +
                "later: :defer: Mailbox being moved, try in an hour\n")
    tern.start_daemon()
    with tern.smtp() as s:
        s.ehlo()
        code, text = s.mail("later@test.example")
        assert code == 451, text
        assert b"Mailbox being moved" in text, text
    assert re.search(r"temporarily rejected MAIL FROM:<later@test\.example>: "
                     r"sender verify deferred: Mailbox being moved",
                     tern.rejectlog())


def test_fail_bounces_local_submission(tern):
    aliases(tern, "gone: :fail: Gone away, write to carol instead\n")
    r = tern.run(["-odi", "-i", "gone@test.example"],
                 input=b"Subject: hello?\n\nanyone\n", prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    assert re.search(r" \*\* gone@test\.example.*Gone away", tern.mainlog())
    bounces = tern.mbox(tern.user)       # the sender is the caller
    assert len(bounces) == 1
    hdrs, body = split_message(bounces[0])
    assert hdrs["Return-path"] == "<>"
    assert b"gone@test.example" in body
    assert b"Gone away, write to carol instead" in body


def test_blackhole(tern):
    aliases(tern, "void: :blackhole:\n")
    tern.start_daemon()
    assert tern.send("void@test.example") == {}
    tern.wait_queue_empty()
    (msgid,) = tern.arrivals()
    tern.wait_completed(msgid)
    assert re.search(LOG_HEAD + re.escape(msgid) + r" => .*blackhole",
                     tern.mainlog(), re.M | re.I), tern.mainlog()
    assert list(tern.path("mail").iterdir()) == []
    assert list(tern.path("out").iterdir()) == []


def test_include(tern):
    tern.write("lists/staff", "# the staff list\nalice\nbob,\n  carol\n")
    aliases(tern, "staff: :include:@DIR@/lists/staff\n")
    tern.start_daemon()
    assert tern.send("staff@test.example") == {}
    tern.wait_queue_empty()
    for name in ("alice", "bob", "carol"):
        assert len(tern.mbox(name)) == 1, name


def test_nested_and_case_insensitive(tern):
    aliases(tern, "outer: middle\nmiddle: inner, carol\n"
                  "inner: @DIR@/mail/inner\n")
    tern.start_daemon()
    assert tern.send("OuTeR@Test.Example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox("inner")) == 1
    assert len(tern.mbox("carol")) == 1
    assert not tern.path("mail", "outer").exists()
    assert not tern.path("mail", "middle").exists()


def test_alias_loop_reported_not_looped(tern):
    aliases(tern, "ping: pong\npong: ping\n")
    # local submission: nothing is verified at submission time
    r = tern.run(["-odi", "-i", "ping@test.example"],
                 input=b"Subject: round and round\n\nx\n", prog="sendmail",
                 timeout=60)
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (msgid, *bounces) = tern.arrivals()
    tern.wait_completed(msgid)
    lines = tern.log_lines(msgid)
    assert any(re.search("loop", l, re.I) for l in lines), lines
    assert len(lines) < 20, "the alias loop was followed"
    assert not tern.path("mail", "ping").exists()
    assert not tern.path("mail", "pong").exists()


def test_generic_write_options_apply_to_any_transport(tern):
    """body_only and envelope_to_add are the core's generic transport
    options: they shape what the pipe transport writes, though the pipe
    module declares neither."""
    tern.script("record", RECORD)
    text = STANDARD_CONFIG.replace(
        "address_pipe:\n  driver = pipe\n",
        "address_pipe:\n  driver = pipe\n  body_only\n", 1)
    tern.config(text, aliases=STANDARD_ALIASES +
                '''bodies: "|@DIR@/bin/record @DIR@/out/body"\n''')
    tern.start_daemon()
    body = b"just the body\n"
    assert tern.send("bodies@test.example",
                     make_message(to="bodies@test.example", subject="hidden",
                                  body=body)) == {}
    tern.wait_queue_empty()
    got = tern.path("out", "body").read_bytes()
    assert b"Subject: hidden" not in got, got
    assert body in got, got


def test_local_part_of_alias_pipe_and_file_is_the_aliased_address(tern):
    """As in Exim, $local_part and $domain in the transport of a pipe or
    file generated by an alias are those of the address that was
    redirected (they were empty)."""
    tern.script("record", RECORD)
    conf = STANDARD_CONFIG.replace(
        "address_pipe:\n  driver = pipe\n",
        "address_pipe:\n  driver = pipe\n"
        "  headers_add = X-Redirected: $local_part@$domain\n").replace(
        "address_file:\n  driver = appendfile\n",
        "address_file:\n  driver = appendfile\n"
        "  headers_add = X-Redirected: $local_part@$domain\n")
    assert conf.count("X-Redirected") == 2
    tern.config(conf, aliases=STANDARD_ALIASES +
                'team: "|@DIR@/bin/record @DIR@/out/pipe", '
                '@DIR@/out/team.mbox\n')
    tern.start_daemon()
    assert tern.send("team@test.example",
                     make_message(to="team@test.example")) == {}
    tern.wait_queue_empty()
    piped = tern.path("out", "pipe").read_bytes()
    assert b"\nX-Redirected: team@test.example\n" in piped, piped
    (raw,) = read_mbox(tern.path("out", "team.mbox"))
    hdrs, _ = split_message(raw)
    assert hdrs["X-Redirected"] == "team@test.example", raw


def submit(tern, rcpt):
    """Local submission, delivered at once: nothing verified before."""
    r = tern.run(["-odi", "-i", rcpt], input=b"Subject: a\n\nx\n",
                 prog="sendmail", timeout=60)
    assert r.returncode == 0, r


def system_aliases_with(tern, options):
    tern.config(STANDARD_CONFIG.replace(
        "  file_transport = address_file\n\nmaildir_user:",
        "  file_transport = address_file\n" + options + "\n\nmaildir_user:"),
        aliases=STANDARD_ALIASES)


@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_writable_alias_file_defers_until_fixed(tern, mode):
    """modemask (default 022): an alias file others may write could run
    their commands; its addresses wait, logged, until it is fixed."""
    tern.config(aliases=STANDARD_ALIASES)
    path = tern.path("aliases")
    os.chmod(path, mode)
    submit(tern, "alice@test.example")
    (msgid,) = tern.queue_ids()
    assert re.search(re.escape(msgid) + r" == alice@test\.example "
                     r"R=system_aliases .*bad mode \(0" + f"{mode:o}" +
                     r"\): 0022 must be clear for " + re.escape(str(path)),
                     tern.mainlog()), tern.mainlog()
    assert not tern.path("mail", "alice").exists()
    os.chmod(path, 0o644)
    assert tern.run(["-qf"]).returncode == 0
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1


def test_alias_file_owner_checked(tern):
    """owners: an alias file owned by anyone else defers; modemask = 0
    lets a group-writable one through."""
    system_aliases_with(tern, "  owners = root\n  modemask = 0")
    path = tern.path("aliases")
    os.chmod(path, 0o664)
    os.chown(path, 1, -1)  # not root
    submit(tern, "alice@test.example")
    (msgid,) = tern.queue_ids()
    assert re.search(re.escape(msgid) + r" == alice@test\.example "
                     r"R=system_aliases .*bad owner \(uid 1\) for ",
                     tern.mainlog()), tern.mainlog()
    os.chown(path, 0, -1)
    assert tern.run(["-qf"]).returncode == 0
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1


def test_unknown_owner_is_a_configuration_error(tern):
    system_aliases_with(tern, "  owners = no-such-user-anywhere")
    for args in (["-bP"], ["-bt", "alice@test.example"]):
        r = tern.run(args)
        assert r.returncode != 0, r
        assert 'director system_aliases: owners/owngroups: unknown user ' \
               'or group "no-such-user-anywhere"' in r.stderr, r


@pytest.mark.parametrize("check", [True, False])
def test_check_ancestor(tern, check):
    """USER's alias names a list that names USER again: with
    check_ancestor USER's own copy goes on to localuser; without it the
    second USER is a loop."""
    system_aliases_with(tern, "  check_ancestor" if check else "")
    tern.aliases(STANDARD_ALIASES.replace("postmaster: @USER@\n", "") +
                 "@USER@: staff\nstaff: @USER@, alice\n")
    submit(tern, f"{tern.user}@test.example")
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1
    assert tern.path("mail", tern.user).exists() == check
