"""Address rewriting: the rules of "begin rewrite" (Exim's chapter "Address
rewriting"), applied as a message is received to its envelope (F, T) and to
its From:, To:, Cc:, Bcc:, Reply-To: and Sender: headers (and their Resent-
forms), at SMTP time to MAIL and RCPT (S), and to the addresses a director
redirects to (T, unless no_rewrite).  -brw shows what each place makes of an
address.  Unqualified addresses in a local message's headers are qualified.
"""

import re

from tern_helpers import STANDARD_CONFIG, split_message


def with_rules(rules, directors_extra=""):
    text = STANDARD_CONFIG
    if directors_extra:
        text = text.replace("system_aliases:\n  driver = aliasfile\n",
                            "system_aliases:\n  driver = aliasfile\n"
                            + directors_extra)
    return text + "\nbegin rewrite\n\n" + rules


# Rules for -brw: each flag's effect is on its own place or address.
TEST_RULES = r"""
root@*.test.example     *
*@*.test.example        $1@test.example
fp42@test.example       "Ford Prefect <ford@test.example>"  wf
^([^.]+)\.([^@]+)@dots\.example$   $1-$2@dots.example  R
*@q.example             $1@first.example   q
*@q.example             $1@never.example
*@first.example         $1@second.example
*@bare.example          $1   Q
*@fail.example          "${if eq {$local_part}{x} {y@fail.example}fail}"
*@fail.example          $local_part@after-fail.example
*@env.example           $local_part@T.example    T
*@env.example           $local_part@F.example    F
*@hdr.example           ${sg{$0}{@}{=}}@hdr2.example      h
\N^<bang!([^>]+)>$\N     <$1@test.example>   S
^(a|b:c)@colon\.example$        $1-ok@colon.example
^(.+)@zero\.example$            ${sg{$0}{@}{=}}-$1@zero2.example
*@\N^(.+)\.rx$\N               $1-$2@out.example
Root@case.example               changed@case.example
*@w.example                     "New Name <$local_part@mid.example>"  w
*@mid.example                   $local_part@final.example
*@wq.example                    "Name <$local_part>"  wQ
*@null.example                  <>   F
*@nl.example                    "X <a@b.example>\nBcc: <c@d.example>"  w
"""


def brw(tern, addr):
    r = tern.run(["-brw", addr])
    r.ok()
    out = {}
    for line in r.stdout.splitlines():
        k, v = line.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def test_brw_shows_each_place(tern):
    tern.config(with_rules(TEST_RULES))
    # a wildcard domain: $1 is what the domain's "*" stood for
    got = brw(tern, "ann@deep.test.example")
    assert set(got) == {"sender", "from", "to", "cc", "bcc", "reply-to",
                        "env-from", "env-to"}, got
    assert all(v == "ann@test.example" for v in got.values()), got
    # "*" as replacement: never rewritten, and no later rule either
    assert set(brw(tern, "root@deep.test.example").values()) == \
        {"root@deep.test.example"}
    # w (whole) in a header, only From: (f); the envelope gets the
    # address part of the replacement
    got = brw(tern, "fp42@test.example")
    assert got["from"] == "Ford Prefect <ford@test.example>", got
    assert got["to"] == "fp42@test.example", got
    # R: again while it matches
    assert brw(tern, "a.b.c@dots.example")["to"] == "a-b-c@dots.example"
    # q: no later rule once it matched
    assert brw(tern, "u@q.example")["to"] == "u@first.example"
    # Q: a bare local part is qualified (qualify_recipient)
    assert brw(tern, "u@bare.example")["to"] == "u@test.example"
    # a forced failure abandons that rule only
    assert brw(tern, "x@fail.example")["to"] == "y@after-fail.example"
    assert brw(tern, "z@fail.example")["to"] == "z@after-fail.example"
    # T and F: only their envelope field; h: only headers, $0 the address
    got = brw(tern, "e@env.example")
    assert got["env-to"] == "e@T.example" and \
        got["env-from"] == "e@F.example" and got["to"] == "e@env.example"
    got = brw(tern, "k@hdr.example")
    assert got["cc"] == "k=hdr.example@hdr2.example", got
    assert got["env-to"] == "k@hdr.example"
    # the address keeps its place in what was given
    assert brw(tern, "Ann <ann@x.test.example>")["to"] == \
        "Ann <ann@test.example>"
    # a pattern is one item: its colons are its own
    assert brw(tern, "a@colon.example")["to"] == "a-ok@colon.example"
    # $0 is the whole address, groups follow; a domain regex's groups
    # follow the local part's "*"
    assert brw(tern, "Joe@zero.example")["to"] == \
        "Joe=zero.example-Joe@zero2.example"
    assert brw(tern, "Joe@dom.rx")["to"] == "Joe-dom@out.example"
    # local parts match with case, as in Exim
    assert brw(tern, "Root@case.example")["to"] == "changed@case.example"
    assert brw(tern, "root@case.example")["to"] == "root@case.example"
    # a later rule's address goes into a w rule's mailbox; Q qualifies
    # the address inside one
    got = brw(tern, "a@w.example")
    assert got["from"] == "New Name <a@final.example>", got
    assert got["env-to"] == "a@final.example", got
    assert brw(tern, "x@wq.example")["from"] == "Name <x@test.example>"
    # the envelope sender may become <>, nothing else may
    got = brw(tern, "n@null.example")
    assert got["env-from"] == "<>" and got["to"] == "n@null.example", got
    # a line break would make a header of its own: refused
    assert brw(tern, "n@nl.example")["from"] == "n@nl.example"
    assert "line break in address" in tern.paniclog()
    # S rules show on an SMTP line of their own
    out = tern.run(["-brw", "<bang!someone>"]).stdout
    assert "    SMTP: <someone@test.example>" in out, out


def test_no_rules(tern):
    tern.config()
    r = tern.run(["-brw", "a@b.example"])
    r.ok()
    assert r.stdout == "No rewrite rules are defined\n"


SMTP_RULES = r"""
*@localhost                 $1@test.example        T
*@mail.example.net          $1@example.net         Ffrs
*@example.org               ${lookup{$1}lsearch{@DIR@/realnames}{$value}fail}@example.org  h
\N^<bang!([^>]+)>$\N         <$1@test.example>      S
"""


def test_smtp_message_envelope_and_headers(tern):
    tern.config(with_rules(SMTP_RULES), main="log_selector = +address_rewrite")
    tern.write("realnames", "pat: Pat.Smith\n")
    tern.start_daemon()
    u = tern.user
    msg = (f"From: Sender Name <sender@mail.example.net>\r\n"
           f"To: \"The User\" <{u}@localhost>, pat@example.org (Pat)\r\n"
           f"Cc: keep@elsewhere.example, Team: pat@example.org;\r\n"
           f"Reply-To: sender@mail.example.net\r\n"
           f"Sender: Broken <x@mail.example.net\r\n"
           f"Resent-From: pat@example.org\r\n"
           f"X-Other: pat@example.org\r\n"
           f"Subject: rewriting\r\n\r\nBody.\r\n").encode()
    with tern.smtp() as s:
        # an S rule turns what would be a syntax error into an address
        s.mail("sender@mail.example.net")
        code, _ = s.docmd(f"RCPT TO:<bang!{u}>")
        assert code == 250
        code, _ = s.rcpt(f"{u}@localhost")
        assert code == 250
        s.data(msg)
    (raw,) = tern.wait_mbox(u)
    hdrs, body = split_message(raw)
    assert hdrs["Return-path"] == "<sender@example.net>", raw
    # both recipients were the same address once rewritten
    assert f"{u}@test.example" in hdrs["Envelope-to"], raw
    assert "localhost" not in hdrs["Envelope-to"], raw
    assert hdrs["From"] == "Sender Name <sender@example.net>", raw
    assert hdrs["Reply-To"] == "sender@example.net"
    # T applies to the envelope only: To: keeps localhost; h rewrote pat
    # by the lookup, comments and display names stay
    assert hdrs["To"] == (f"\"The User\" <{u}@localhost>, "
                          f"Pat.Smith@example.org (Pat)"), raw
    assert hdrs["Cc"] == "keep@elsewhere.example, Team: Pat.Smith@example.org;"
    assert hdrs["Resent-From"] == "Pat.Smith@example.org"
    assert hdrs["X-Other"] == "pat@example.org"
    # a header that does not parse is left as it is, and logged
    assert hdrs["Sender"] == "Broken <x@mail.example.net", raw
    assert re.search(r"qualify/rewrite: Sender: bad address list: "
                     r"missing '>'", tern.mainlog()), tern.mainlog()
    assert body == b"Body.\n"
    log = tern.mainlog()
    # the <= line shows the rewritten sender
    assert re.search(r"<= sender@example\.net H=", log), log
    assert re.search(rf'"{u}@localhost" from env-to rewritten as '
                     rf'"{u}@test\.example" by rule 1', log), log
    assert re.search(r'"pat@example\.org" from to: rewritten as '
                     r'"Pat\.Smith@example\.org" by rule 3', log), log
    assert re.search(rf'"<bang!{u}>" from smtp recipient rewritten with '
                     rf'\(address part of\) '
                     rf'"<{u}@test\.example>" by rule 4', log), log


def test_local_headers_qualified_after_extraction(tern):
    """-t takes the recipients first, then the headers are rewritten and
    their bare local parts qualified (a local message)."""
    tern.config(with_rules("*@test.example  $1@localhost  t\n"))
    u = tern.user
    msg = (f"To: {u}\nCc: Someone <other>\nSubject: t\n\nhi\n").encode()
    r = tern.run(["-odi", "-t"], input=msg)
    r.ok()
    # the first message; a bounce for other@test.example follows
    raw = tern.wait_mbox(u)[0]
    hdrs, _ = split_message(raw)
    assert hdrs["To"] == f"{u}@localhost", raw
    # Cc: qualified, not rewritten (the rule is for To: only)
    assert hdrs["Cc"] == "Someone <other@test.example>", raw
    # the From: Tern made for a local message is qualified already
    assert re.search(rf"\b{u}@test\.example>?$", hdrs["From"]), raw


def test_redirected_addresses_rewritten_unless_no_rewrite(tern):
    rules = "*@localhost  $1@test.example  T\n"
    u = tern.user
    aliases = f"team: {u}@localhost\n"
    tern.config(with_rules(rules), aliases=aliases)
    r = tern.run(["-odi", "-f", "s@example.net", "team@test.example"],
                 input=b"Subject: a\n\nx\n")
    r.ok()
    (mid,) = tern.arrivals()
    tern.wait_completed(mid)
    (line,) = tern.deliveries(mid)
    assert f"=> {u}@test.example <team@test.example>" in line, line
    # no_rewrite on the director: the child stays as the file wrote it
    tern.config(with_rules(rules, directors_extra="  no_rewrite\n"),
                aliases=aliases)
    r = tern.run(["-odi", "-f", "s@example.net", "team@test.example"],
                 input=b"Subject: b\n\nx\n")
    r.ok()
    mid2 = tern.arrivals()[-1]
    tern.wait_completed(mid2)
    (line,) = tern.deliveries(mid2)
    assert f"=> {u}@localhost <team@test.example>" in line, line


def test_bad_result_is_logged_and_left(tern):
    """A replacement that is no qualified address: paniclog, the address
    stays as it was and the message is delivered."""
    tern.config(with_rules("*@localhost  $1  T\n"))
    u = tern.user
    r = tern.run(["-odi", "-f", "s@example.net", f"{u}@localhost"],
                 input=b"Subject: c\n\nx\n")
    r.ok()
    (mid,) = tern.arrivals()
    tern.wait_completed(mid)
    assert f"Rewrite of {u}@localhost yielded unqualified address" in \
        tern.paniclog()
    (line,) = tern.deliveries(mid)
    assert f"=> {u}@localhost" in line, line


def test_config_errors(tern):
    tern.config(with_rules("*@x.example  $1@y.example  Tz\n"))
    r = tern.run(["-bV"])
    assert r.returncode != 0
    assert 'unknown flag "z"' in r.stderr, r.stderr
    tern.config(with_rules("*@x.example  <$1@y.example>  S\n"))
    r = tern.run(["-bV"])
    assert r.returncode != 0
    assert "must be a regular expression" in r.stderr, r.stderr
    tern.config(with_rules("*@x.example\n"))
    r = tern.run(["-bV"])
    assert r.returncode != 0
    assert "pattern and replacement expected" in r.stderr, r.stderr


def test_transport_headers_rewrite(tern):
    """headers_rewrite on a transport: its rules apply to the headers it
    writes (not to the envelope, not to headers_add's lines, not to the
    message as another transport writes it)."""
    rules = ('  headers_rewrite = *@example.net  $1@rewritten.example  f : '
             '*@test.example  "Some One <$1@test.example>"  tw\n'
             '  headers_add = X-Added: x@example.net\n')
    text = STANDARD_CONFIG.replace(
        "local_mbox:\n  driver = appendfile\n",
        "local_mbox:\n  driver = appendfile\n" + rules)
    tern.config(text)
    u = tern.user
    msg = (f"From: s@example.net\nTo: {u}@test.example\n"
           f"Cc: s@example.net\nSubject: hr\n\nx\n").encode()
    tern.run(["-odi", "-f", "s@example.net", f"{u}@test.example",
              f"{u}@maildir.example"], input=msg).ok()
    (mid,) = tern.arrivals()
    tern.wait_completed(mid)
    (raw,) = tern.mbox(u)
    hdrs, _ = split_message(raw)
    assert hdrs["From"] == "s@rewritten.example", raw
    assert hdrs["To"] == f"Some One <{u}@test.example>", raw
    assert hdrs["Cc"] == "s@example.net", raw        # f only: not Cc:
    assert hdrs["X-Added"] == "x@example.net", raw
    assert hdrs["Return-path"] == "<s@example.net>", raw
    # the Maildir transport has no rules: the message as received
    (other,) = tern.maildir(u)
    hdrs, _ = split_message(other)
    assert hdrs["From"] == "s@example.net" and \
        hdrs["To"] == f"{u}@test.example", other


def test_transport_headers_rewrite_refuses_envelope_flags(tern):
    text = STANDARD_CONFIG.replace(
        "local_mbox:\n  driver = appendfile\n",
        "local_mbox:\n  driver = appendfile\n"
        "  headers_rewrite = *@a.example  $1@b.example  F\n")
    tern.config(text)
    r = tern.run(["-bV"])
    assert r.returncode != 0
    assert "flags E, F, T and S are not allowed" in r.stderr, r.stderr
