"""message_id_header_text and message_id_header_domain (docs/config.md):
the Message-Id: header a local submission without one gets, as Exim
makes it: <id.TEXT@DOMAIN>, each character that may not stand there made
a hyphen; a forced failure or an empty result leaves the part out, a
failed expansion too, with a paniclog line."""

import re

from tern_helpers import make_message


def submit(tern, main, keep_id=False):
    """A local submission without a Message-ID (unless keep_id): the id
    its delivered copy has."""
    tern.config(main=main)
    msg = make_message()
    if not keep_id:
        msg = msg.replace(b"Message-ID:", b"X-Old-Id:")
    r = tern.run(["-odi", "alice@test.example"], input=msg,
                 prog="sendmail")
    assert r.returncode == 0, r
    (raw,) = tern.wait_mbox("alice")
    return re.search(r"^Message-I[dD]: <(.*)>$", raw.decode(), re.M)[1]


def test_default_is_id_at_qualify_domain(tern):
    mid = submit(tern, "qualify_domain = q.example\n")
    assert re.fullmatch(r"[0-9A-Za-z-]+@q\.example", mid), mid


def test_text_and_domain(tern):
    mid = submit(tern, "message_id_header_text = ${sender_address_local_part}"
                 ":x y(z)\n"
                 "message_id_header_domain = host_${primary_hostname}!\n")
    (mid_id, text, dom) = re.fullmatch(r"([0-9A-Za-z-]+)\.(.*)@(.*)",
                                       mid).groups()
    assert text == f"{tern.user}-x-y-z-", mid
    assert dom == "host-test.example-", mid
    (arrival,) = tern.arrivals()
    assert mid_id == arrival


def test_forced_failure_and_empty_leave_it_out(tern):
    mid = submit(tern, "message_id_header_text = ${if eq{1}{2}{x}fail}\n"
                 "message_id_header_domain = ${if eq{1}{2}{x}}\n")
    assert re.fullmatch(r"[0-9A-Za-z-]+@test\.example", mid), mid
    assert not tern.paniclog()


def test_failed_expansion_is_logged_and_left_out(tern):
    mid = submit(tern, "message_id_header_text = ${nosuchop:x}\n")
    assert re.fullmatch(r"[0-9A-Za-z-]+@test\.example", mid), mid
    assert "(message_id_header_text) failed" in tern.paniclog()


def test_a_message_with_its_own_id_keeps_it(tern):
    mid = submit(tern, "message_id_header_text = extra\n", keep_id=True)
    assert re.fullmatch(r"[0-9a-f]{32}@client\.example", mid), mid
