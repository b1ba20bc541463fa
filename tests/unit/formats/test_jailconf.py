"""jail.conf(5): parser, value model, renderer, editor and jail(8)'s evaluation (salt_jail.core.formats.jailconf).

Table tests run on hand-written fixtures in tests/fixtures/jailconf/; property tests (hypothesis)
check the renderer and the editor on generated text.
"""

import pathlib

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt_jail.core.formats import jailconf
from salt_jail.core.errors import JailprovError, ParseError, ValidationError

from tests.support.jailconf_roundtrip import canonical, product_params, shape, standin_params

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "jailconf"
INCLUDE_ROOT = FIXTURES / "root"


def fixture(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def only_statement(text):
    [statement] = jailconf.parse(text).statements
    return statement


def no_files(pattern):
    return []


# ---------------------------------------------------------------------------------------------
# Parsing: values, quoting, escapes, references

VALUES = [
    # (statement, key, value, references)
    ("persist;", "persist", True, ()),
    ("allow.nomount;", "allow.mount", False, ()),
    ("mount.nodevfs;", "mount.devfs", False, ()),
    ('allow.mount = "false";', "allow.mount", False, ()),
    ("allow.mount = TRUE;", "allow.mount", True, ()),
    ("allow.nomount = false;", "allow.mount", True, ()),  # bool_param(): the prefix inverts the value
    ("allow.raw_sockets = 1;", "allow.raw_sockets", ["1"], ()),
    ("ip4.addr = 10.1.1.1, 10.1.1.2, 10.1.1.3;", "ip4.addr", ["10.1.1.1", "10.1.1.2", "10.1.1.3"], ()),
    ("ip4.addr = lo1|172.16.1.2/24;", "ip4.addr", ["lo1|172.16.1.2/24"], ()),
    ("path = /;", "path", ["/"], ()),
    ("securelevel = -1;", "securelevel", ["-1"], ()),
    ("path = /var/jail/$name;", "path", ["/var/jail/$name"], ("name",)),
    ('path = "/var/jail/${host.hostname}";', "path", ["/var/jail/${host.hostname}"], ("host.hostname",)),
    ('x = "${a}b$c";', "x", ["${a}b$c"], ("a", "c")),
    ("ip4.addr = 10.240.0.${ip};", "ip4.addr", ["10.240.0.${ip}"], ("ip",)),
    ("exec.stop = '';", "exec.stop", [""], ()),
    ('mount.fstab = "";', "mount.fstab", [""], ()),
    ("exec.start = '/bin/sh $not_a_var';", "exec.start", ["/bin/sh $not_a_var"], ()),
    (r'x = "cost \$5, $ and $1";', "x", ["cost $5, $ and $1"], ()),
    ("x = $;", "x", ["$"], ()),
    ("x = ab\"cd\"'ef';", "x", ["abcdef"], ()),
    ("x = a+b*c%d;", "x", ["a+b*c%d"], ()),
    (r'x = "a\tb\101\x41\0 after NUL is dropped";', "x", ["a\tbAA"], ()),
    ('x = "one \\\ntwo";', "x", ["one two"], ()),
    (r"x = caf\303\251;", "x", ["café"], ()),
    (r"x = '\x41 \'q\'';", "x", ["A 'q'"], ()),
    (r'x = "\\$HOME";', "x", ["\\$HOME"], ("HOME",)),  # an escaped backslash, then a real variable
    ('$parentdir = "/var/jail";', "$parentdir", ["/var/jail"], ()),
    ("${odd.name} = 1;", "$odd.name", ["1"], ()),
    ('"quoted.name" = 1;', "quoted.name", ["1"], ()),
]


@pytest.mark.parametrize("source, key, value, refs", VALUES, ids=[v[0] for v in VALUES])
def test_values(source, key, value, refs):
    param = only_statement(source)
    assert (param.key, param.value) == (key, value)
    assert tuple(r for s in param.strings for r in s.refs) == refs


@pytest.mark.parametrize("source, op, variable", [
    ("persist;", None, False),
    ("exec.start = x;", "=", False),
    ("exec.start += x;", "+=", False),
    ('exec.start "/bin/sh /etc/rc";', "", False),  # jail(8)'s "name value" form
    ("$v = 1;", "=", True),
])
def test_operators(source, op, variable):
    param = only_statement(source)
    assert (param.op, param.variable) == (op, variable)


def test_include_statements():
    doc = jailconf.parse('.include "/etc/jail.conf.d/*.conf", "/etc/jail.x.conf";\n'
                         'a {\n\t.include "/etc/a.inc";\n}\n'
                         '.include = "x";\n')
    top, block, param = doc.statements
    assert isinstance(top, jailconf.Include) and top.patterns == ("/etc/jail.conf.d/*.conf", "/etc/jail.x.conf")
    assert isinstance(block.body[0], jailconf.Include) and block.body[0].patterns == ("/etc/a.inc",)
    assert isinstance(param, jailconf.Param)  # only the "name value" form includes, as in jail(8)


@pytest.mark.parametrize("name", ["tutorial.conf", "comments.conf", "wildcards.conf", "variables.conf",
                                  "escapes.conf", "root/etc/jail.conf"])
def test_fixtures_round_trip_through_their_statements(name):
    """Written again from the parsed statements only, each fixture parses to the same statements, and its jails
    read as the rehearsal's independent jail(8) reader reads them."""
    text = fixture(name)
    doc = jailconf.parse(text, name)
    assert doc.statements
    assert shape(jailconf.parse(canonical(doc.statements), name).statements) == shape(doc.statements)
    read = jailconf.fs_reader(str(FIXTURES / "root")) if name.startswith("root/") else (lambda pattern: [])
    product = product_params(text, name, read)
    assert product and product == standin_params(text, name, read)


def test_comments_everywhere():
    doc = jailconf.parse(fixture("comments.conf"))
    assert doc.jails() == ["web", "db"]
    assert [(p.key, p.value) for p in doc.block("web")] == [
        ("host.hostname", ["web.example.org"]),
        ("ip4.addr", ["192.0.2.10", "192.0.2.11"]),
        ("exec.start", ["/bin/sh /etc/rc"]),
    ]
    top = [p for p in doc.statements if isinstance(p, jailconf.Param)]
    assert [(p.key, p.value) for p in top] == [
        ("exec.clean", True), ("mount.devfs", True), ("path", ["/jails/$name"])]
    assert [(b.name, b.line, b.column) for b in doc.blocks()] == [("web", 8, 1), ("db", 16, 1)]


def test_nested_blocks_and_wildcard_names():
    doc = jailconf.parse(fixture("wildcards.conf"))
    assert [b.name for b in doc.blocks()] == ["*", "web", "web.app", "web.*", "db", "*"]
    assert doc.jails() == ["web", "web.app", "db"]
    app = doc.blocks()[2]
    assert (app.label, app.nested) == ("app", True)
    assert [(p.key, p.value) for p in doc.block("web.app")] == [("host.hostname", ["app.web.example.org"])]


def test_block_lookup():
    doc = jailconf.parse(fixture("tutorial.conf"))
    assert doc.block("nope") is None
    assert jailconf.parse("empty {}\n").block("empty") == ()


ERRORS = [
    # (text, line, column, words in the message)
    ("foo {\n  persist\n}\n", 3, 1, "expected '=', '+=', a value or ';' after 'persist', found '}'"),
    ('path = "/x"\nhost.hostname = a;\n', 1, 12, "expected ';' after value \"/x\" (found 'host.hostname' on line 2)"),
    ("foo {\n persist;\n", 3, 1, "expected '}' to close jail block \"foo\" (opened on line 1)"),
    ("a {\n b {\n x;\n}\n", 5, 1, "close jail block \"a\" (opened on line 1)"),
    ("x;\n}\n", 2, 1, "unexpected '}'"),
    ('x = "abc;\n', 1, 5, "unterminated string"),
    ("x = 'abc;\n", 1, 5, "unterminated string"),
    ("x = 1; /* abc\n", 1, 8, "unterminated comment"),
    ("x = ${abc;\n", 1, 5, "unterminated variable"),
    ('x = "a${abc";\n', 1, 7, "unterminated variable"),
    ("foo.* {\n}\n", 1, 5, 'quote it: "foo.*"'),
    ('path"/x";\n', 1, 5, "is glued to 'path'"),
    ("x = ;\n", 1, 5, "expected a value after '='"),
    ("x += }\n", 1, 6, "expected a value after '+='"),
    ("x = a,;\n", 1, 7, "expected a value after ','"),
    ("x = café;\n", 1, 8, "found the character 'é' (only allowed inside quotes)"),
    ('.include "$dir/*.conf";\n', 1, 10, "variables not permitted in '.include' filename"),
    ("x = a b;\n", 1, 6, "expected ';' after value a"),
    ("= 5;\n", 1, 1, "expected a parameter or a jail block, found '='"),
    ("web {\n    += 5;\n}\n", 2, 5, "expected a parameter, a jail block or '}', found '+='"),
    ("$v { }\n", 1, 4, "after '$v', found '{'"),
]


@pytest.mark.parametrize("text, line, column, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_parse_errors(text, line, column, words):
    with pytest.raises(ParseError) as info:
        jailconf.parse(text, "/etc/jail.conf")
    err = info.value
    assert (err.filename, err.line, err.column) == ("/etc/jail.conf", line, column)
    assert words in err.message
    assert str(err).startswith(f"/etc/jail.conf:{line}:{column}: ")


# ---------------------------------------------------------------------------------------------
# Rendering

RENDERED = [
    ("prisoner1", "prisoner1"),
    ("192.168.11.31", "192.168.11.31"),
    ("bsd1.korodes.com", "bsd1.korodes.com"),
    ("-1", "-1"),
    ("/home/jail/prisoner1", '"/home/jail/prisoner1"'),
    ("/bin/sh /etc/rc", '"/bin/sh /etc/rc"'),
    ("em0|10.0.0.5/24", '"em0|10.0.0.5/24"'),
    ("//not-a-comment", '"//not-a-comment"'),
    ("", '""'),
    ("a$b", r'"a\$b"'),
    ('say "hi"', r'"say \"hi\""'),
    ("back\\slash", r'"back\\slash"'),
    ("l1\nl2\tx\r", r'"l1\nl2\tx\r"'),
    ("bell\a1", r'"bell\0071"'),
    ("x;y{z}#,='", "\"x;y{z}#,='\""),
    ("café", '"café"'),
]


@pytest.mark.parametrize("value, text", RENDERED, ids=[r[1] for r in RENDERED])
def test_render_value(value, text):
    assert jailconf.render_value(value) == text
    [string] = only_statement(f"x = {text};").strings
    assert (string.text, string.refs) == (value, ())


@pytest.mark.parametrize("value, words", [
    ("a\0b", "NUL"),
    ("\udc80", "not valid Unicode"),
    (5, "must be a string"),
])
def test_render_value_refuses(value, words):
    with pytest.raises(ValidationError, match=words):
        jailconf.render_value(value)


def test_render_block_canonical_style():
    params = [
        ("jid", 1), ("path", "/home/jail/prisoner1"), ("ip4.addr", "192.168.11.31"),
        ("host.hostname", "bsd1.korodes.com"), ("allow.chflags", True), ("exec.start", "/bin/sh /etc/rc"),
        ("devfs_ruleset", 4),
    ]
    assert jailconf.render_block("prisoner1", params) == (
        "prisoner1 {\n"
        "    jid = 1;\n"
        '    path = "/home/jail/prisoner1";\n'
        "    ip4.addr = 192.168.11.31;\n"
        "    host.hostname = bsd1.korodes.com;\n"
        "    allow.chflags;\n"
        '    exec.start = "/bin/sh /etc/rc";\n'
        "    devfs_ruleset = 4;\n"
        "}\n"
    )
    assert jailconf.render_block("p", [("allow.raw_sockets", False), ("ip4.addr", ["10.0.0.1", "em0|10.0.0.2"])]) == (
        'p {\n    allow.raw_sockets = false;\n    ip4.addr = 10.0.0.1, "em0|10.0.0.2";\n}\n')
    assert jailconf.render_block("my jail", []) == '"my jail" {\n}\n'


def test_render_block_reports_every_problem():
    with pytest.raises(ValidationError) as info:
        jailconf.render_block("", [("ok", 1), ("bad name", 1), ("x", []), ("y", None), ("z", "a\0")])
    assert len(info.value.errors) == 5
    assert "non-empty" in info.value.errors[0] and "'bad name'" in info.value.errors[1]
    assert "empty list" in info.value.errors[2] and "got None" in info.value.errors[3]
    assert "NUL" in info.value.errors[4]


# ---------------------------------------------------------------------------------------------
# Editing

P1 = [("jid", 1), ("path", "/home/jail/prisoner1"), ("ip4.addr", "192.168.11.31"),
      ("host.hostname", "bsd1.korodes.com"), ("allow.chflags", True), ("exec.start", "/bin/sh /etc/rc"),
      ("devfs_ruleset", 4)]


def test_set_block_already_canonical_is_no_change():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    assert doc.set_block("prisoner1", P1) is False
    assert doc.render() == text


def test_set_block_replaces_in_place():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    new_params = P1[:2] + [("ip4.addr", ["192.168.11.31", "192.168.11.41"])] + P1[3:]
    assert doc.set_block("prisoner1", new_params) is True
    assert doc.render() == text.replace("ip4.addr = 192.168.11.31;",
                                        "ip4.addr = 192.168.11.31, 192.168.11.41;")
    assert doc.jails() == ["prisoner1", "prisoner2"]
    assert doc.set_block("prisoner1", new_params) is False


def test_set_block_appends_then_remove_restores():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    block = jailconf.render_block("prisoner3", [("jid", 3), ("persist", True)])
    assert doc.set_block("prisoner3", [("jid", 3), ("persist", True)]) is True
    assert doc.render() == text + "\n" + block
    assert doc.jails() == ["prisoner1", "prisoner2", "prisoner3"]
    assert doc.remove_block("prisoner3") is True
    assert doc.render() == text
    assert doc.remove_block("prisoner3") is False


def test_remove_block_takes_its_blank_line_only():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    assert doc.remove_block("prisoner1") is True
    start = text.index("\nprisoner1 {")
    end = text.index("}\n", start) + 2
    assert doc.render() == text[:start] + text[end:]
    assert doc.jails() == ["prisoner2"]


EDITS = [
    # (before, operation, name, after)
    ("a {\n}\n\nb {\n}\n", "remove", "a", "b {\n}\n"),  # at the top: takes the blank line after it
    ("a {\n}\n# about b\nb {\n}\n", "remove", "b", "a {\n}\n# about b\n"),  # the comment is not ours
    ("a { x; } b { y; }  # tail\n", "set", "b", "a { x; } b {\n    z;\n}  # tail\n"),
    ("a { x; } b { y; }  # tail\n", "remove", "a", " b { y; }  # tail\n"),
    ("web {\n        x;\n}        #TAG\n", "set", "web", "web {\n    z;\n}        #TAG\n"),
    ("    www {\n        x;\n    }\n\n", "set", "www", "www {\n    z;\n}\n\n"),
    ('.include "/etc/jail.conf.d/*.conf";', "set", "new", '.include "/etc/jail.conf.d/*.conf";\n\nnew {\n    z;\n}\n'),
    ("", "set", "new", "new {\n    z;\n}\n"),
    ('"a" {\n}\n', "set", "a", "a {\n    z;\n}\n"),
    ("a {}", "set", "a", "a {\n    z;\n}"),  # the file still ends without a newline
]


@pytest.mark.parametrize("before, operation, name, after", EDITS)
def test_edits_keep_foreign_bytes(before, operation, name, after):
    doc = jailconf.parse(before)
    if operation == "set":
        doc.set_block(name, [("z", True)])
    else:
        doc.remove_block(name)
    assert doc.render() == after


@pytest.mark.parametrize("operation", ["set", "remove", "block"])
def test_duplicate_block_is_refused_naming_both_lines(operation):
    doc = jailconf.parse("a {\n}\nb {\n}\na {\n}\n", "/etc/jail.conf")
    call = {"set": lambda: doc.set_block("a", []), "remove": lambda: doc.remove_block("a"),
            "block": lambda: doc.block("a")}[operation]
    with pytest.raises(JailprovError, match=r'/etc/jail.conf: jail "a" is defined 2 times \(lines 1, 5\)'):
        call()
    assert doc.render() == "a {\n}\nb {\n}\na {\n}\n"


def test_nested_block_is_not_edited():
    doc = jailconf.parse("web {\n    app {\n    }\n}\n", "/etc/jail.conf")
    with pytest.raises(JailprovError, match=r'/etc/jail.conf:2: jail "web.app" is a block nested'):
        doc.set_block("web.app", [])
    with pytest.raises(JailprovError, match="nested"):
        doc.remove_block("web.app")


def test_bad_params_leave_the_text_alone():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    with pytest.raises(ValidationError):
        doc.set_block("prisoner1", [("bad name", 1)])
    assert doc.render() == text


def test_includes():
    text = fixture("tutorial.conf")
    doc = jailconf.parse(text)
    pattern = "/etc/jail.conf.d/*.conf"
    assert doc.has_include(pattern) is False
    assert doc.ensure_include(pattern) is True
    assert doc.render() == text + '\n.include "/etc/jail.conf.d/*.conf";\n'
    assert doc.has_include(pattern) and doc.ensure_include(pattern) is False
    assert jailconf.parse('.include "a.conf";').ensure_include("a.conf") is False
    # an include inside a block belongs to that block: not a host-level include
    assert jailconf.parse('a {\n .include "/etc/jail.conf.d/*.conf";\n}\n').has_include(pattern) is False


# ---------------------------------------------------------------------------------------------
# Evaluation: what jail(8) sees for one jail

EFFECTIVE = [
    ("wildcards.conf", "web", {
        "name": ["web"], "exec.start": ["/bin/sh /etc/rc"], "persist": True, "mount.devfs": True,
        "devfs_ruleset": ["5"], "allow.raw_sockets": True, "ip4.addr": ["192.0.2.10", "192.0.2.11"],
        "enforce_statfs": ["2"], "allow.mount": False}),
    ("wildcards.conf", "web.app", {
        "name": ["web.app"], "exec.start": ["/bin/sh /etc/rc"], "persist": True, "mount.devfs": True,
        "devfs_ruleset": ["4"], "allow.raw_sockets": False, "host.hostname": ["app.web.example.org"],
        "securelevel": ["3"], "enforce_statfs": ["2"], "allow.mount": False}),
    ("wildcards.conf", "db", {
        "name": ["db"], "exec.start": ["/bin/sh /etc/rc"], "persist": True, "mount.devfs": False,
        "devfs_ruleset": ["4"], "allow.raw_sockets": True, "allow.mount": False, "enforce_statfs": ["2"]}),
    ("variables.conf", "a", {
        "name": ["a"], "path": ["/usr/local/jails/a"], "host.hostname": ["a.example.org"],
        "ip4.addr": ["10.0.0.10"], "exec.start": ["/bin/sh /etc/rc $literal"],
        "exec.prestart": ["logger starting a.example.org in /usr/local/jails/a"]}),
    ("variables.conf", "b", {
        "name": ["b"], "path": ["/usr/local/jails/b"], "host.hostname": ["b.example.org"],
        "ip4.addr": ["10.0.0.11", "10.0.1.1", "10.0.1.2"], "exec.start": ["/bin/sh /etc/rc $literal"],
        "exec.prestart": ["logger starting b.example.org in /usr/local/jails/b", "echo $HOME is not a variable"]}),
    ("escapes.conf", "quoting", {
        "name": ["quoting"], "exec.start": ['/bin/sh -c "echo $HOME; echo done"'],
        "exec.poststart": ["printf 'a\tb\\n' >/tmp/out"], "host.hostname": ["café.example.org"],
        "exec.prestop": ["tab\thex and octal A"], "exec.poststop": ["single 'quoted' $HOME"],
        "mount.fstab": [""], "exec.consolelog": ["/var/log/jail_quoting_console.log"]}),
    ("comments.conf", "db", {
        "name": ["db"], "exec.clean": True, "mount.devfs": True, "path": ["/jails/db"], "persist": True}),
    ("tutorial.conf", "prisoner2", {
        "name": ["prisoner2"], "exec.clean": True, "mount.devfs": True,
        "exec.stop": ["/bin/sh /etc/rc.shutdown jail"], "jid": ["2"], "path": ["/home/jail/prisoner2"],
        "ip4.addr": ["192.168.11.32"], "host.hostname": ["bsd2.korodes.com"], "allow.chflags": True,
        "exec.start": ["/bin/sh /etc/rc"], "devfs_ruleset": ["4"]}),
]


@pytest.mark.parametrize("name, jail, expected", EFFECTIVE, ids=[f"{e[0]}:{e[1]}" for e in EFFECTIVE])
def test_effective_params(name, jail, expected):
    params = jailconf.effective_params(jailconf.parse(fixture(name), name), jail)
    assert params == expected
    assert list(params) == list(expected)  # jail(8)'s order: name first, then first appearance


def test_effective_params_through_includes():
    read = jailconf.fs_reader(str(INCLUDE_ROOT))
    assert jailconf.defined_jails("/etc/jail.conf", read=read) == ["alpha", "beta", "web"]
    common = {"exec.clean": True, "exec.start": ["/bin/sh /etc/rc"]}
    assert jailconf.effective_params("/etc/jail.conf", "beta", read=read) == {
        "name": ["beta"], **common, "path": ["/usr/jail/beta"], "ip4.addr": ["192.0.2.22"],
        "exec.start": ["/bin/sh /etc/rc", "/usr/local/etc/rc.d/beta start"]}
    assert jailconf.effective_params("/etc/jail.conf", "web", read=read) == {
        "name": ["web"], **common, "path": ["/usr/jail/web"], "host.hostname": ["web.example.org"],
        "ip4.addr": ["192.0.2.80"], "devfs_ruleset": ["4"]}


def test_fs_reader_returns_host_paths_in_glob_order():
    read = jailconf.fs_reader(str(INCLUDE_ROOT))
    assert [name for name, _ in read("/etc/jail.conf.d/*.conf")] == [
        "/etc/jail.conf.d/alpha.conf", "/etc/jail.conf.d/beta.conf"]
    assert read("/etc/nothing/*.conf") == [] and read("/etc/missing.conf") == []


def test_relative_include_is_resolved_against_the_including_file():
    asked = []

    def read(pattern):
        asked.append(pattern)
        return []

    doc = jailconf.parse('.include "jail.conf.d/*.conf";\n.include "/abs/*.conf";\n', "/etc/jail.conf")
    assert jailconf.defined_jails(doc, read=read) == []
    assert asked == ["/etc/jail.conf.d/*.conf", "/abs/*.conf"]


ORDERING = [
    # (text, jail, param, value): later wins, += appends, * before/after, top level is one pseudo-jail
    ("a { x += 1; x += 2; }", "a", "x", ["1", "2"]),
    ("x = 0;\na { x += 1; }", "a", "x", ["0", "1"]),
    ("a { x = 1; x = 2; }", "a", "x", ["2"]),
    # the top-level pseudo-jail sits where its FIRST parameter appears:
    ("a { x = 1; }\nx = 0;", "a", "x", ["0"]),  # after a: it wins
    ("y = 0;\na { x = 1; }\nx = 0;", "a", "x", ["1"]),  # before a: x = 0 joins it there, a wins
    ("* { x = 0; }\na { x = 1; }", "a", "x", ["1"]),
    ("a { x = 1; }\n* { x = 0; }", "a", "x", ["0"]),
    ("a { x = 1; }\n* { x += 2; }", "a", "x", ["1", "2"]),
    ("* { allow.mount; }\na { allow.nomount; }", "a", "allow.mount", False),
    ('a { b { x = 1; } }\n"a.*" { x = 2; }', "a.b", "x", ["2"]),
    ('"*.b" { x = 2; }\na { b { } }\nc { b { } }', "c.b", "x", ["2"]),
    ('"a.*" { x = 2; }\na { }', "a", "x", None),  # a partial wildcard does not match its own parent
    ("5 { persist; }", "5", "jid", ["5"]),  # a numeric jail name sets jid (and name, last)
    ("a { $v = 1; $v = 2; x = $v; }", "a", "x", ["2"]),
    ("a { x = $name.$name; }", "a", "x", ["a.a"]),
    ("a { $l = p, q; x = $l; }", "a", "x", ["p", "q"]),
]


@pytest.mark.parametrize("text, jail, param, value", ORDERING, ids=[o[0] for o in ORDERING])
def test_effective_ordering(text, jail, param, value):
    assert jailconf.effective_params(jailconf.parse(text), jail).get(param) == value


def test_numeric_jail_name_sets_jid_first_and_name_last():
    assert list(jailconf.effective_params(jailconf.parse("5 { persist; }"), "5").items()) == [
        ("jid", ["5"]), ("persist", True), ("name", ["5"])]


EVAL_ERRORS = [
    # (text, jail, words): jail(8) refuses to create these jails
    ("a { path = $nope; }", "a", 'jail "a": path: variable "nope" not found'),
    ("a { persist; x = $persist; }", "a", 'x: variable "persist" not found'),
    ("a { $x = $y; $y = $x; p = $x; }", "a", "variable loop"),
    ('a { $l = 1, 2; p = "x$l"; }', "a", "p: array cannot be substituted inline"),
    ("a { name = b; }", "a", 'cannot redefine parameter "name"'),
    ("a { noname; }", "a", 'cannot redefine parameter "name"'),  # "noX" is the same parameter as X
    ("jid = 3;\na { jid = 4; }", "a", 'cannot redefine parameter "jid"'),
    ("a { $path = /x; }", "a", 'variable "$path" cannot have the same name as a parameter'),
    ("a { $v = 1; v = 2; }", "a", 'variable "$v" cannot have the same name as a parameter'),
    ("a {}\na {}\n", "a", 'jail "a" is defined 2 times (jail.conf:1, jail.conf:2)'),
    ("a {}", "b", 'jail "b" is not defined'),
    ("a {}", "*", 'jail "*" is not defined'),
    ('.include "/etc/missing.conf";\na {}', "a", "included file /etc/missing.conf does not exist"),
]


@pytest.mark.parametrize("text, jail, words", EVAL_ERRORS, ids=[e[0] for e in EVAL_ERRORS])
def test_effective_params_errors(text, jail, words):
    with pytest.raises(JailprovError) as info:
        jailconf.effective_params(jailconf.parse(text), jail, read=no_files)
    assert words in str(info.value)


def test_glob_matching_nothing_is_fine_but_a_reader_is_needed():
    doc = jailconf.parse('.include "/etc/jail.conf.d/*.conf";\na {}\n')
    assert jailconf.effective_params(doc, "a", read=no_files) == {"name": ["a"]}
    with pytest.raises(JailprovError, match="no reader was given"):
        jailconf.effective_params(doc, "a")


def test_include_loop_stops_at_jail8s_depth_limit():
    def read(pattern):
        return [("/etc/jail.conf", '.include "/etc/jail.conf";\n')]

    with pytest.raises(JailprovError, match=r"maximum include depth \(32\) exceeded"):
        jailconf.defined_jails("/etc/jail.conf", read=read)


# ---------------------------------------------------------------------------------------------
# Properties

# Text jail.conf can carry: anything but NUL and lone surrogates.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=24)
PARAM_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,6}(\.[a-z_][a-z0-9_]{0,6}){0,2}", fullmatch=True).filter(
    lambda n: not n.rpartition(".")[2].startswith("no"))  # "noX" would read back as X = false
VALUES_ST = st.one_of(st.booleans(), st.integers(-10**6, 10**6), TEXT, st.lists(TEXT, min_size=1, max_size=3))


def model_of(value):
    """What a rendered value reads back as: jail(8) does not tell the string "false" from false."""
    if isinstance(value, bool):
        return value
    items = [str(i) for i in (value if isinstance(value, list) else [value])]
    if len(items) == 1 and items[0].lower() in ("true", "false"):
        return items[0].lower() == "true"
    return items


@given(TEXT)
def test_render_value_round_trips(value):
    [string] = only_statement(f"x = {jailconf.render_value(value)};").strings
    assert (string.text, string.refs) == (value, ())


@given(TEXT.filter(bool), st.lists(st.tuples(PARAM_NAMES, VALUES_ST), max_size=6))
def test_render_block_round_trips(name, params):
    doc = jailconf.parse(jailconf.render_block(name, params))
    [block] = doc.statements
    assert block.name == name
    assert [(p.key, p.value) for p in block.body] == [(k, model_of(v)) for k, v in params]


# Generated documents: statements with random quoting and comments/whitespace between tokens.
TRIVIA = st.lists(st.sampled_from([" ", "\t", "\n", "  \n", "/* c */", "/* two\n * lines */", "# note\n",
                                   "// note\n"]), min_size=1, max_size=3).map("".join)
GAP = st.one_of(st.just(""), TRIVIA)
BARE = st.from_regex(r"[A-Za-z0-9._-]{1,10}", fullmatch=True)
LABELS = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)


@st.composite
def strings(draw):
    """(source, value) of one string: bare, single-quoted, double-quoted, or two glued together."""
    def one():
        style = draw(st.sampled_from(["bare", "single", "double"]))
        if style == "bare":
            value = draw(BARE)
            return value, value
        if style == "single":
            value = draw(TEXT.filter(lambda s: "'" not in s and "\\" not in s))
            return f"'{value}'", value
        value = draw(TEXT)
        rendered = jailconf.render_value(value)
        return (rendered if rendered.startswith('"') else f'"{value}"'), value

    parts = [one() for _ in range(draw(st.integers(1, 2)))]
    return "".join(p[0] for p in parts), "".join(p[1] for p in parts)


@st.composite
def params(draw):
    """(source, shape) of a parameter or variable statement."""
    variable = draw(st.booleans())
    name = draw(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True) if variable else PARAM_NAMES)
    head = "$" + name if variable else name
    form = draw(st.sampled_from([None, "=", "+=", ""]))
    if form is None:
        return f"{head}{draw(GAP)};", ("param", name, variable, None, [])
    values = draw(st.lists(strings(), min_size=1, max_size=3))
    listed = (draw(GAP) + "," + draw(GAP)).join(v[0] for v in values)
    middle = draw(TRIVIA) if form == "" else f"{draw(GAP)}{form}{draw(GAP)}"
    return f"{head}{middle}{listed}{draw(GAP)};", ("param", name, variable, form, [v[1] for v in values])


@st.composite
def blocks(draw, depth=0):
    """(source, shape) of a jail block, nested at most once."""
    label = draw(LABELS)
    children = st.one_of(params(), blocks(depth + 1)) if depth == 0 else params()
    body = draw(st.lists(children, max_size=4))
    inner = "".join(draw(GAP) + source for source, _ in body)
    return f"{label}{draw(GAP)}{{{inner}{draw(GAP)}}}", ("block", label, [shape for _, shape in body])


@st.composite
def documents(draw):
    """(text, shape) of a whole file; top-level block labels are unique."""
    items = draw(st.lists(st.one_of(params(), blocks()), max_size=6))
    labels = [shape[1] for _, shape in items if shape[0] == "block"]
    if len(labels) != len(set(labels)):
        items = [item for item in items if item[1][0] != "block"]
    text = draw(GAP) + "".join(source + draw(TRIVIA) for source, _ in items)
    return text, [shape for _, shape in items]


def shape_of(statements):
    out = []
    for st_ in statements:
        if isinstance(st_, jailconf.Block):
            out.append(("block", st_.label, shape_of(st_.body)))
        else:
            out.append(("param", st_.name, st_.variable, st_.op, [s.text for s in st_.strings]))
    return out


@given(documents())
@settings(max_examples=150)
def test_generated_documents_parse_to_their_shape_and_render_identical(document):
    text, shape = document
    doc = jailconf.parse(text)
    assert shape_of(doc.statements) == shape
    assert doc.render() == text


MANAGED = [("jid", 7), ("path", "/home/jail/Managed-1"), ("persist", True)]


@given(documents())
def test_set_block_is_stable_and_remove_restores(document):
    text, _ = document
    doc = jailconf.parse(text)
    assert doc.set_block("Managed-1", MANAGED) is True
    once = doc.render()
    assert once.startswith(text)
    assert doc.set_block("Managed-1", MANAGED) is False and doc.render() == once
    assert doc.remove_block("Managed-1") is True
    assert doc.render() == (text if not text or text.endswith("\n") else text + "\n")


@given(documents(), st.data())
def test_replacing_an_existing_block_keeps_every_other_byte(document, data):
    text, _ = document
    doc = jailconf.parse(text)
    top = [b for b in doc.statements if isinstance(b, jailconf.Block)]
    if not top:
        return
    block = data.draw(st.sampled_from(top))
    doc.set_block(block.label, MANAGED)
    new = doc.render()
    before, after = text[:block.start].rstrip(" \t"), text[block.end:].lstrip(" \t").lstrip("\n")
    assert new.startswith(before) and new.endswith(after)
    # the administrator's line comments in the block stay (issue 15); without them it is the rendered block
    bare = "\n".join(re.sub(r"\s+(#|//).*$", "", line) for line in new.split("\n")
                     if not line.strip().startswith(("#", "//")) or not line.startswith(" "))
    assert jailconf.render_block(block.label, MANAGED).rstrip("\n") in bare
    nested = block.label + "."  # the blocks nested in the replaced one go with it
    assert doc.jails() == [n for n in jailconf.parse(text).jails() if not n.startswith(nested)]
    assert doc.set_block(block.label, MANAGED) is False
