"""Accept limits and queue runners (issue 4): smtp_accept_max,
smtp_accept_max_per_host, smtp_accept_queue_per_connection,
smtp_accept_queue, -R, -qq, queue runs in the daemon."""

import re

from tern_helpers import LOG_HEAD, RawSMTP, make_message, wait_for


def banner_code(port):
    c = RawSMTP(port)
    return c, c.banner[0]


def test_smtp_accept_max(tern):
    tern.config(main="smtp_accept_max = 2")
    tern.start_daemon(["-odq"])
    a, ca = banner_code(tern.port)
    b, cb = banner_code(tern.port)
    assert (ca, cb) == (220, 220)
    c, cc = banner_code(tern.port)
    assert cc == 421, c.banner
    c.close()
    tern.wait_for_log(r"refused: too many connections")
    # a freed slot is usable again
    a.cmd("QUIT")
    a.close()

    def fourth():
        d = RawSMTP(tern.port)
        code = d.banner[0]
        d.close()
        return code == 220
    wait_for(fourth, 10, "a connection after one closed")
    b.close()


def test_smtp_accept_max_per_host(tern):
    tern.config(main="smtp_accept_max_per_host = 1")
    tern.start_daemon(["-odq"])
    a, ca = banner_code(tern.port)
    b, cb = banner_code(tern.port)
    assert (ca, cb) == (220, 421), b.banner
    assert "from this IP address" in b.banner[1]
    a.close()
    b.close()


def test_smtp_accept_queue_per_connection(tern):
    tern.config(main="smtp_accept_queue_per_connection = 2")
    tern.start_daemon()
    with tern.smtp() as s:
        for i in range(5):
            s.sendmail("sender@example.net", ["alice@test.example"],
                       make_message(subject=f"message {i}"))
    ids = tern.arrivals()
    assert len(ids) == 5
    for msgid in ids[:2]:
        tern.wait_completed(msgid)
    for msgid in ids[2:]:
        tern.wait_for_log(re.escape(msgid) + r" no immediate delivery: more "
                          r"than smtp_accept_queue_per_connection")
    assert len(tern.mbox("alice")) == 2
    assert sorted(tern.queue_ids()) == sorted(ids[2:])
    tern.run(["-q"]).ok()
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 5


def test_smtp_accept_queue(tern):
    tern.config(main="smtp_accept_queue = 1")
    tern.start_daemon()
    idle = RawSMTP(tern.port)           # one connection open already
    assert idle.banner[0] == 220
    assert tern.send("alice@test.example") == {}
    (msgid,) = tern.arrivals()
    tern.wait_for_log(re.escape(msgid) + r" no immediate delivery: more "
                      r"than 1 connections")
    assert tern.queue_ids() == [msgid]
    idle.close()


def test_R_selects_by_recipient_domain(tern):
    tern.config()
    for to in ("alice@test.example", f"{tern.user}@maildir.example"):
        tern.run(["-odq", to], input=make_message(to=to, eol=b"\n"),
                 prog="sendmail").ok()
    test_id, maildir_id = tern.arrivals()
    tern.run(["-R", "maildir.example"]).ok()
    tern.wait_completed(maildir_id)
    assert tern.queue_ids() == [test_id]
    assert re.search(LOG_HEAD + r"Start queue run: pid=\d+ -R maildir.example",
                     tern.mainlog(), re.M)
    tern.run(["-qR", "TEST.example"]).ok()
    tern.wait_queue_empty()


def test_two_pass_queue_run(tern):
    tern.config()
    for i in range(3):
        tern.run(["-odq", "alice@test.example"],
                 input=make_message(subject=f"m{i}", eol=b"\n"),
                 prog="sendmail").ok()
    tern.run(["-qq"]).ok()
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 3
    assert re.search(LOG_HEAD + r"Start queue run: pid=\d+ -qq$",
                     tern.mainlog(), re.M)


def test_daemon_queue_runner(tern):
    tern.config(main="queue_run_in_order = true")
    for i in range(2):
        tern.run(["-odq", "alice@test.example"],
                 input=make_message(subject=f"m{i}", eol=b"\n"),
                 prog="sendmail").ok()
    tern.start_daemon(["-q1s"])
    tern.wait_queue_empty()
    tern.wait_for_log(r"Start queue run: pid=\d+$")
    subjects = [m.split(b"Subject: ")[1].split(b"\n")[0]
                for m in tern.mbox("alice")]
    assert subjects == [b"m0", b"m1"]      # queue_run_in_order
