"""rc.conf(5): the sh-assignment editor and the host's jail/alias plan (salt_jail.core.formats.rcconf).

Values are checked against /bin/sh itself where that matters: what the parser says a file assigns must be
what ``sh`` gets when it sources the file.
"""

import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salt_jail.core.formats import rcconf
from salt_jail.core.errors import JailprovError, ParseError, ValidationError
from tests.support.rcconf import RC, RC_JAIL, SEED_PRISONERS, SH, apply_plan, config, prisoner, sh_values

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "rcconf"
RC_LOCAL = "/etc/rc.conf.local"


needs_sh = pytest.mark.skipif(SH is None, reason="no /bin/sh to compare with")


# --------------------------------------------------------------------------------------------------
# Parsing

DOCUMENT = (
    "# comment\n"
    'a="x y"  # trailing comment\n'
    "b='single $quoted'\n"
    "c=bare\n"
    "d=\n"
    'e=""\n'
    'f=a#b\n'
    'g="multi\nline"\n'
    'h="esc \\" \\$ \\` \\\\ \\n"\n'
    "i=mixed'one'\"two\"\n"
    "j=semi;\n"
    "k=first\n"
    "k=second\n"
    "\n"
    "  l=indented\t# tab comment\n"
    "m=back\\\nslash\n"
    "n=last"
)

DOCUMENT_VALUES = {
    "a": "x y", "b": "single $quoted", "c": "bare", "d": "", "e": "", "f": "a#b", "g": "multi\nline",
    "h": 'esc " $ ` \\ \\n', "i": "mixedonetwo", "j": "semi", "k": "second", "l": "indented",
    "m": "backslash", "n": "last",
}


def test_render_is_byte_identical():
    assert rcconf.parse(DOCUMENT).render() == DOCUMENT


@pytest.mark.parametrize("key, expected", sorted(DOCUMENT_VALUES.items()))
def test_get_reads_values_as_sh_does(key, expected):
    assert rcconf.parse(DOCUMENT).get(key) == expected


@needs_sh
def test_document_values_agree_with_sh(tmp_path):
    assert sh_values(DOCUMENT, list(DOCUMENT_VALUES), tmp_path) == DOCUMENT_VALUES


STYLES = [("a=v", "bare"), ("a='v'", "single"), ('a="v"', "double"), ("a=v'w'", "mixed"), ("a=", "bare")]


@pytest.mark.parametrize("line, style", STYLES)
def test_lookup_reports_quoting_style(line, style):
    assert rcconf.parse(line + "\n").lookup("a").style == style


def test_lookup_of_an_unset_key_and_the_default():
    conf = rcconf.parse('a="1"\n')
    assert conf.lookup("zz") is None
    assert conf.get("zz") is None and conf.get("zz", "dflt") == "dflt"


def test_lookup_gives_the_line_of_the_last_assignment():
    assert rcconf.parse("# x\nk=1\n\nk=2\n").lookup("k").lineno == 4


def test_names_lists_plain_and_opaque_assignments_in_order():
    conf = rcconf.parse('b=1\n# a=commented\nexport c=2\nif x; then\n d=3\nfi\nb=4\n')
    assert conf.names() == ["b", "c", "d"]


AMBIGUOUS = [
    # (text, key, line of the opaque assignment, words of the reason)
    ('k="YES"\nif [ -f /x ]; then\n  k="NO"\nfi\n', "k", 3, "block"),
    ('k="YES"\ncase $x in\n  a) k=NO ;;\nesac\n', "k", 3, "block"),
    ('k="YES"\nsetup() {\n  k=NO\n}\n', "k", 3, "block"),
    ('k="YES"\nexport k="NO"\n', "k", 2, "other shell commands"),
    ('k="YES"\nunset k\n', "k", 2, "other shell commands"),
    ('k="YES"\na=1 k=2\n', "k", 2, "other shell commands"),
    ('k="YES"\n: ${k:=NO}\n', "k", 2, "other shell commands"),
    ('k="YES"\nk=$(hostname)\n', "k", 2, "command substitution"),
    ("k=`hostname`\n", "k", 1, "command substitution"),
    ('for i in 1 2; do\n  k="$i"\ndone\n', "k", 2, "block"),
]


@pytest.mark.parametrize("text, key, line, reason", AMBIGUOUS)
def test_an_opaque_assignment_after_the_last_plain_one_is_ambiguous(text, key, line, reason):
    conf = rcconf.parse(text, filename=RC)
    for operation in (lambda: conf.get(key), lambda: conf.set(key, "x"), lambda: conf.delete(key)):
        with pytest.raises(ParseError) as info:
            operation()
        assert info.value.filename == RC and info.value.line == line
        assert reason in str(info.value)
    assert conf.render() == text


def test_an_opaque_assignment_before_the_last_plain_one_is_overridden():
    conf = rcconf.parse('if x; then\n  k=NO\nfi\nexport k\nk="YES"\n')
    assert conf.get("k") == "YES"
    assert conf.set("k", "NO") and conf.get("k") == "NO"


def test_opaque_lines_leave_other_keys_alone():
    conf = rcconf.parse('if x; then\n  other=1\nfi\nk="YES"\n')
    assert conf.get("k") == "YES"


def test_one_line_blocks_close_themselves():
    conf = rcconf.parse('if x; then a=1; fi\nk="YES"\n')
    assert conf.get("k") == "YES" and conf.lookup("k").lineno == 2


@pytest.mark.parametrize("text", ['k="$HOME"\n', "k=${x:-y}\n", 'k="pre${x}post"\n', "k=$1\n"])
def test_a_value_with_parameter_expansion_cannot_be_read(text):
    conf = rcconf.parse(text, filename=RC)
    assert not conf.lookup("k").literal
    with pytest.raises(ParseError, match="shell expansion"):
        conf.get("k")


@pytest.mark.parametrize("text", ["k='a$b'\n", 'k="cost \\$5"\n', "k=a$\n", 'k="$"\n'])
def test_a_dollar_that_expands_nothing_is_literal(text):
    assert rcconf.parse(text).lookup("k").literal


@pytest.mark.parametrize("text, line", [
    ('a=1\nb="open\n\nc=2\n', 2),
    ("a='open\n", 1),
    ('a=1\nb=$(oops\n', 2),
    ("a=1\n\nb=`oops\n", 3),
])
def test_an_unterminated_quote_is_a_parse_error(text, line):
    with pytest.raises(ParseError) as info:
        rcconf.parse(text, filename=RC)
    assert info.value.line == line and "unterminated" in str(info.value)


# --------------------------------------------------------------------------------------------------
# Editing

SET = [
    # (old text, key, value, new text)
    ('k="NO"   # keep me\n', "k", "YES", 'k="YES"   # keep me\n'),
    ("k='NO'\n", "k", "YES", "k='YES'\n"),
    ("k=NO\n", "k", "YES", "k=YES\n"),
    ("k=NO;\t# semi\n", "k", "YES", "k=YES;\t# semi\n"),
    ("  k=NO\n", "k", "YES", "  k=YES\n"),
    ("k=web\n", "k", "web db", 'k="web db"\n'),
    ("k=web\n", "k", "", 'k=""\n'),
    ("k=web\n", "k", "~/x", 'k="~/x"\n'),
    ("k='x'\n", "k", "it's", 'k="it\'s"\n'),
    ("k='x'\n", "k", "$HOME `id`", "k='$HOME `id`'\n"),
    ('k="x"\n', "k", 'a "b" $c `d` \\e', 'k="a \\"b\\" \\$c \\`d\\` \\\\e"\n'),
    ("k=a'b'\n", "k", "c", 'k="c"\n'),
    ('k="$HOME"\n', "k", "/root", 'k="/root"\n'),
    ('k="1"\nother=2\nk="2"  # last\n', "k", "3", 'k="1"\nother=2\nk="3"  # last\n'),
    ('k="multi\nline"\nz=1\n', "k", "one", 'k="one"\nz=1\n'),
    ("", "k", "v", 'k="v"\n'),
    ("a=1\n", "k", "v w", 'a=1\nk="v w"\n'),
    ("a=1", "k", "v", 'a=1\nk="v"\n'),
    ("# only a comment", "k", "v", '# only a comment\nk="v"\n'),
    ("#k=commented\n", "k", "v", '#k=commented\nk="v"\n'),
]


@pytest.mark.parametrize("old, key, value, new", SET)
def test_set(old, key, value, new):
    conf = rcconf.parse(old)
    assert conf.set(key, value) is True
    assert conf.render() == new
    assert conf.get(key) == value
    assert rcconf.parse(new).get(key) == value


@needs_sh
@pytest.mark.parametrize("old, key, value, new", SET)
def test_set_values_agree_with_sh(old, key, value, new, tmp_path):
    assert sh_values(new, [key], tmp_path) == {key: value}


@pytest.mark.parametrize("old, key, value", [
    ('k="YES"  # c\n', "k", "YES"),
    ("k='a b'", "k", "a b"),
    ('k=""\n', "k", ""),
])
def test_set_to_the_current_value_changes_nothing(old, key, value):
    conf = rcconf.parse(old)
    assert conf.set(key, value) is False
    assert conf.render() == old


@pytest.mark.parametrize("key, value", [("1abc", "v"), ("a-b", "v"), ("", "v"), ("k", "nul\0byte"), ("k", 5)])
def test_set_rejects_what_sh_cannot_hold(key, value):
    with pytest.raises(ValidationError):
        rcconf.parse("").set(key, value)


@pytest.mark.parametrize("text", ['if x; then\n  a=1\n', "a=1 \\\n"])
def test_set_refuses_to_append_to_an_unfinished_command(text):
    conf = rcconf.parse(text, filename=RC)
    with pytest.raises(ParseError, match="not finished"):
        conf.set("k", "v")
    assert conf.render() == text


DELETE = [
    ('a=1\nk="x"  # c\nb=2\n', "k", "a=1\nb=2\n"),
    ("k=1\na=1\nk=2\n", "k", "a=1\n"),
    ('a=1\nk="multi\nline"\n', "k", "a=1\n"),
    ("a=1\nk=2", "k", "a=1\n"),
    ("#k=1\n", "k", "#k=1\n"),
]


@pytest.mark.parametrize("old, key, new", DELETE)
def test_delete(old, key, new):
    conf = rcconf.parse(old)
    assert conf.delete(key) is (old != new)
    assert conf.render() == new
    assert conf.lookup(key) is None


@pytest.mark.parametrize("value, style, word", [
    ("YES", "double", '"YES"'),
    ("YES", "bare", "YES"),
    ("a b", "bare", '"a b"'),
    ("", "bare", '""'),
    ("a=b,c:d/e@f%g+h-i_j.k", "bare", "a=b,c:d/e@f%g+h-i_j.k"),
    ("~root", "bare", '"~root"'),
    ("a b", "single", "'a b'"),
    ("it's", "single", '"it\'s"'),
    ('$`"\\', "double", '"\\$\\`\\"\\\\"'),
    ("x", "mixed", '"x"'),
])
def test_quote(value, style, word):
    assert rcconf.quote(value, style) == word


# Hypothesis: any value survives set/get, and sh agrees.

NASTY = st.text(alphabet=list("ab $`\"'\\\n\t#;{}()*?~=!&|<>"), max_size=12)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=12)
VALUES = st.one_of(NASTY, ANY_TEXT)
LINE_STYLES = st.sampled_from(['k="old"', "k='old'", "k=old", "k=o'l'\"d\"", 'k="$x"'])
SUFFIXES = st.sampled_from(["", "  # comment", "\t# it's a \"comment\"", ";"])


@settings(max_examples=150, deadline=None)
@given(line=LINE_STYLES, suffix=SUFFIXES, value=VALUES)
def test_any_value_round_trips_in_any_style(line, suffix, value):
    old = f"first=1\n{line}{suffix}\nlast=2"
    conf = rcconf.parse(old)
    conf.set("k", value)
    new = conf.render()
    assert rcconf.parse(new).get("k") == value
    assert new.startswith("first=1\n") and new.endswith(f"{suffix}\nlast=2")
    again = rcconf.parse(new)
    assert again.set("k", value) is False and again.render() == new


@needs_sh
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=LINE_STYLES, value=VALUES)
def test_any_value_is_what_sh_reads(line, value, tmp_path):
    conf = rcconf.parse(line + "\n")
    conf.set("k", value)
    assert sh_values(conf.render(), ["k"], tmp_path) == {"k": value}


OPAQUE_LINES = [
    "# a comment with 'quotes\n", "\n", "   \n", ":\n", "true; true\n", "export a\n", "unset b\n", "a=1 b=2\n",
    ": ${b:=dflt}\n", "b=$(printf %s sub)\n", "if true; then\n  a=in\nfi\n", "if false; then\n  b=no\nfi\n",
    "setup() {\n  a=fn\n}\n",
]


@st.composite
def documents(draw):
    """rc.conf texts mixing plain assignments of a/b/c with lines salt_jail does not evaluate."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            key = draw(st.sampled_from("abc"))
            value = rcconf.quote(draw(NASTY), draw(st.sampled_from(["double", "single", "bare"])))
            lines.append(f"{key}={value}{draw(SUFFIXES)}\n")
        else:
            lines.append(draw(st.sampled_from(OPAQUE_LINES)))
    text = "".join(lines)
    return text[:-1] if text and draw(st.booleans()) else text


@needs_sh
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=documents())
def test_what_the_parser_claims_to_know_is_what_sh_reads(text, tmp_path):
    conf = rcconf.parse(text)
    assert conf.render() == text
    truth = sh_values(text, ["a", "b", "c"], tmp_path)
    for key in "abc":
        try:
            value = conf.get(key)
        except ParseError:
            continue
        assert value == truth.get(key)


@settings(max_examples=100, deadline=None)
@given(text=documents(), value=NASTY)
def test_set_then_set_again_is_stable(text, value):
    conf = rcconf.parse(text)
    try:
        conf.set("c", value)
    except ParseError:
        return
    once = conf.render()
    assert rcconf.parse(once).get("c") == value
    assert rcconf.parse(once).set("c", value) is False


# --------------------------------------------------------------------------------------------------
# YES/NO

@pytest.mark.parametrize("text, truth", [
    ("YES", True), ("yes", True), ("Yes", True), ("TRUE", True), ("on", True), ("1", True),
    ("NO", False), ("no", False), ("False", False), ("OFF", False), ("0", False),
    ("", None), ("y", None), ("YES ", None), ("2", None), ("ｙｅｓ", None),
])
def test_checkyesno_is_rc_subr(text, truth):
    assert rcconf.checkyesno(text) is truth


@pytest.mark.parametrize("value, word", [
    (True, "YES"), (False, "NO"), (1, "YES"), (0, "NO"), ("yes", "YES"), ("Off", "NO"), ("TRUE", "YES"),
])
def test_yesno_normalises_pillar_booleans(value, word):
    assert rcconf.yesno(value) == word


@pytest.mark.parametrize("value", ["maybe", 2, None, 1.0, ""])
def test_yesno_rejects_other_values(value):
    with pytest.raises(ValidationError, match="not a yes/no value"):
        rcconf.yesno(value)


# --------------------------------------------------------------------------------------------------
# The host plan: jail variables (rc_aliases off to keep the tables short)

NO_ALIASES = {"rc_aliases": False}
P1_ABSENT = (prisoner("prisoner1", ["192.168.11.31"]), prisoner("prisoner2", ["192.168.11.32"], absent=True))

JAIL_VARIABLES = [
    # (id, old /etc/rc.conf, host overrides, prisoners, remove, new /etc/rc.conf)
    ("enable-unset", "", {}, SEED_PRISONERS, (), 'jail_enable="YES"\n'),
    ("enable-no-comment", 'jail_enable="NO"   # Set to NO to disable\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"   # Set to NO to disable\n'),
    ("enable-single", "jail_enable='no'\n", {}, SEED_PRISONERS, (), "jail_enable='YES'\n"),
    ("enable-bare", "jail_enable=NO\n", {}, SEED_PRISONERS, (), "jail_enable=YES\n"),
    ("enable-yes-lower", 'jail_enable="yes"\n', {}, SEED_PRISONERS, (), 'jail_enable="yes"\n'),
    ("enable-on", "jail_enable=On\n", {}, SEED_PRISONERS, (), "jail_enable=On\n"),
    ("enable-true", "jail_enable='TRUE'\n", {}, SEED_PRISONERS, (), "jail_enable='TRUE'\n"),
    ("enable-1", "jail_enable=1\n", {}, SEED_PRISONERS, (), "jail_enable=1\n"),
    ("enable-garbage", 'jail_enable="maybe"\n', {}, SEED_PRISONERS, (), 'jail_enable="YES"\n'),
    ("enable-duplicated", 'jail_enable="YES"\njail_enable="NO"\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_enable="YES"\n'),
    ("enable-duplicated-ok", 'jail_enable="NO"\njail_enable="YES"\n', {}, SEED_PRISONERS, (),
     'jail_enable="NO"\njail_enable="YES"\n'),
    ("no-final-newline", 'sshd_enable="YES"', {}, SEED_PRISONERS, (), 'sshd_enable="YES"\njail_enable="YES"\n'),
    ("auto-empty-stays", 'jail_enable="YES"\njail_list=""\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list=""\n'),
    ("auto-unset-stays", 'jail_enable="YES"\n', {}, SEED_PRISONERS, (), 'jail_enable="YES"\n'),
    ("auto-appends", 'jail_enable="YES"\njail_list="web"\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="web prisoner1 prisoner2"\n'),
    ("auto-whole-words", 'jail_enable="YES"\njail_list="prisoner10 prisoner2x"\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="prisoner10 prisoner2x prisoner1 prisoner2"\n'),
    ("auto-keeps-order", 'jail_enable="YES"\njail_list="prisoner2 web"  # mine\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="prisoner2 web prisoner1"  # mine\n'),
    ("auto-complete", 'jail_enable="YES"\njail_list="prisoner2  web\tprisoner1"\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="prisoner2  web\tprisoner1"\n'),
    ("auto-bare-list", "jail_enable=YES\njail_list=web\n", {}, SEED_PRISONERS, (),
     'jail_enable=YES\njail_list="web prisoner1 prisoner2"\n'),
    ("auto-single-list", "jail_enable=YES\njail_list='web'\n", {}, SEED_PRISONERS, (),
     "jail_enable=YES\njail_list='web prisoner1 prisoner2'\n"),
    ("auto-skips-absent", 'jail_enable="YES"\njail_list="web"\n', {}, P1_ABSENT, (),
     'jail_enable="YES"\njail_list="web prisoner1"\n'),
    ("explicit-unset", 'jail_enable="YES"\n', {"jail_list": "explicit"}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="prisoner1 prisoner2"\n'),
    ("explicit-empty", 'jail_enable="YES"\njail_list=""\n', {"jail_list": "explicit"}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_list="prisoner1 prisoner2"\n'),
    ("explicit-admin-first", 'jail_enable="YES"\njail_list="web"\n', {"jail_list": "explicit"}, SEED_PRISONERS,
     (), 'jail_enable="YES"\njail_list="web prisoner1 prisoner2"\n'),
    ("remove", 'jail_enable="YES"\njail_list="prisoner1 web prisoner2"\n', {}, P1_ABSENT, ("prisoner2",),
     'jail_enable="YES"\njail_list="prisoner1 web"\n'),
    ("remove-explicit", 'jail_enable="YES"\njail_list="prisoner2"\n', {"jail_list": "explicit"}, P1_ABSENT,
     ("prisoner2",), 'jail_enable="YES"\njail_list="prisoner1"\n'),
    ("remove-unknown-name", 'jail_enable="YES"\njail_list="old web"\n', {}, SEED_PRISONERS, ("old",),
     'jail_enable="YES"\njail_list="web prisoner1 prisoner2"\n'),
    ("parallel-yes", 'jail_enable="YES"\n', {"parallel_start": True}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_parallel_start="YES"\n'),
    ("parallel-yes-string", 'jail_enable="YES"\n', {"parallel_start": "on"}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_parallel_start="YES"\n'),
    ("parallel-no-is-default", 'jail_enable="YES"\n', {"parallel_start": False}, SEED_PRISONERS, (),
     'jail_enable="YES"\n'),
    ("parallel-no", 'jail_enable="YES"\njail_parallel_start="YES"\n', {"parallel_start": False}, SEED_PRISONERS,
     (), 'jail_enable="YES"\njail_parallel_start="NO"\n'),
    ("parallel-left-alone", 'jail_enable="YES"\njail_parallel_start="YES"\n', {}, SEED_PRISONERS, (),
     'jail_enable="YES"\njail_parallel_start="YES"\n'),
]


@pytest.mark.parametrize("old, host, prisoners, remove, new",
                         [case[1:] for case in JAIL_VARIABLES], ids=[case[0] for case in JAIL_VARIABLES])
def test_jail_variables(old, host, prisoners, remove, new):
    cfg = config(prisoners=prisoners, **{**NO_ALIASES, **host})
    texts, _ = apply_plan(cfg, {RC: old}, remove)
    assert texts[RC] == new


def test_removing_the_last_name_empties_the_list_and_says_what_that_means():
    cfg = config(prisoners=(prisoner("prisoner2", ["192.168.11.32"], absent=True),), **NO_ALIASES)
    texts, plan = apply_plan(cfg, {RC: 'jail_enable="YES"\njail_list="prisoner2"\n'}, ("prisoner2",))
    assert texts[RC] == 'jail_enable="YES"\njail_list=""\n'
    assert any("every jail in jail.conf" in note for note in plan.notes)


def test_rc_conf_d_jail_gets_the_jail_variables_and_rc_conf_the_aliases():
    cfg = config(rc_conf=RC_JAIL)
    old_rc = 'jail_enable="NO"\njail_list="web"\n'
    texts, plan = apply_plan(cfg, {RC: old_rc})
    assert texts[RC_JAIL] == 'jail_enable="YES"\njail_list="web prisoner1 prisoner2"\n'
    assert texts[RC] == old_rc + (
        'ifconfig_em0_alias0="inet 192.168.11.31 netmask 255.255.255.255"\n'
        'ifconfig_em0_alias1="inet 192.168.11.32 netmask 255.255.255.255"\n')
    assert any(note.startswith(f"jail_enable in {RC} (line 1) is now overridden") for note in plan.notes)


@pytest.mark.parametrize("texts", [
    {RC: 'jail_enable="NO"\n', RC_JAIL: 'jail_enable="YES"\n'},
    {RC: 'jail_enable="NO"\n', RC_LOCAL: "jail_enable=yes\n"},
    {RC: 'jail_enable="NO"\n', "/usr/local/etc/rc.conf.d/jail": "jail_enable=YES\n"},
])
def test_a_value_already_right_in_a_later_file_is_left_alone(texts):
    assert rcconf.plan_rc_conf(config(**NO_ALIASES), texts).files == {}


@pytest.mark.parametrize("texts, key, path", [
    ({RC_LOCAL: 'jail_enable="NO"\n'}, "jail_enable", RC_LOCAL),
    ({RC: 'jail_enable="YES"\n', RC_JAIL: 'jail_list="web"\n'}, "jail_list", RC_JAIL),
])
def test_a_wrong_value_in_a_file_read_later_is_an_error(texts, key, path):
    with pytest.raises(JailprovError) as info:
        rcconf.plan_rc_conf(config(**NO_ALIASES), texts)
    message = str(info.value)
    assert message.startswith(f"{path}:1: {key}") and RC in message and "jailprov:host:rc_conf" in message


@pytest.mark.parametrize("text, line", [
    ('jail_enable="NO"\nif [ -f /x ]; then\n  jail_enable="NO"\nfi\n', 3),
    ('jail_enable="YES"\njail_list="$base web"\n', 2),
])
def test_a_value_salt_jail_cannot_evaluate_is_a_parse_error_naming_the_line(text, line):
    with pytest.raises(ParseError) as info:
        rcconf.plan_rc_conf(config(**NO_ALIASES), {RC: text})
    assert info.value.filename == RC and info.value.line == line


@pytest.mark.parametrize("host, interface, words", [
    ({"rc_conf": "/etc/jail.conf"}, "em0", "jailprov:host:rc_conf"),
    ({"jail_list": "all"}, "em0", "jailprov:host:jail_list"),
    ({"rc_aliases": True}, None, "jailprov:host:rc_aliases"),
])
def test_bad_host_settings_are_validation_errors(host, interface, words):
    with pytest.raises(ValidationError, match=words):
        rcconf.plan_rc_conf(config(interface=interface, **host), {})


def test_rc_conf_sources_lists_what_each_rc_script_reads():
    assert rcconf.rc_conf_sources(config(**NO_ALIASES)) == rcconf.JAIL_RC_FILES
    both = rcconf.rc_conf_sources(config())
    assert both[:2] == (RC, RC_LOCAL) and set(both) == set(rcconf.JAIL_RC_FILES + rcconf.NETIF_RC_FILES)
    assert len(both) == len(set(both))


# Notes

def test_jail_sysvipc_allow_gets_a_note_pointing_to_the_pillar():
    _, plan = apply_plan(config(**NO_ALIASES), {RC: 'jail_enable="YES"\njail_sysvipc_allow="YES"\n'})
    (note,) = plan.notes
    assert "jail_sysvipc_allow in /etc/rc.conf has no effect" in note and "sysvipc: true" in note


def test_a_commented_jail_sysvipc_allow_gets_no_note():
    _, plan = apply_plan(config(**NO_ALIASES), {RC: 'jail_enable="YES"\n#jail_sysvipc_allow="YES"\n'})
    assert plan.notes == ()


def test_obsolete_per_jail_variables_of_a_prisoner_get_a_note():
    text = ('jail_enable="YES"\njail_prisoner1_rootdir="/j/p1"\njail_prisoner1_hostname="p1"\n'
            'jail_prisoner2_rootdir="/x"\n')
    _, plan = apply_plan(config(**NO_ALIASES), {RC: text})
    (note,) = plan.notes
    assert "/var/run/jail.prisoner1.conf" in note and "ignores jail.conf for prisoner1" in note


# --------------------------------------------------------------------------------------------------
# The host plan: ifconfig aliases

ENABLED = 'jail_enable="YES"\n'
OURS = ['ifconfig_em0_alias{}="inet 192.168.11.31 netmask 255.255.255.255"\n',
        'ifconfig_em0_alias{}="inet 192.168.11.32 netmask 255.255.255.255"\n']


def ours(first, second):
    return OURS[0].format(first) + OURS[1].format(second)


ALIASES = [
    # (id, old /etc/rc.conf after ENABLED, interface, prisoners, remove, new /etc/rc.conf after ENABLED)
    ("none-yet", "", "em0", SEED_PRISONERS, (), ours(0, 1)),
    ("after-the-admins-alias",
     'ifconfig_em0_alias0="inet 192.168.11.20 netmask 255.255.255.0"  # web\n', "em0", SEED_PRISONERS, (),
     'ifconfig_em0_alias0="inet 192.168.11.20 netmask 255.255.255.0"  # web\n' + ours(1, 2)),
    ("other-interfaces-do-not-count",
     "ifconfig_lo1_alias0='inet 10.1.0.1/32'\nifconfig_em1_alias4=\"inet 10.2.0.1/32\"\n", "em0",
     SEED_PRISONERS, (),
     "ifconfig_lo1_alias0='inet 10.1.0.1/32'\nifconfig_em1_alias4=\"inet 10.2.0.1/32\"\n" + ours(0, 1)),
    ("gaps-are-kept",
     'ifconfig_em0_alias0="inet 10.0.0.1/32"\nifconfig_em0_alias5="inet 10.0.0.5/32"\n', "em0", SEED_PRISONERS,
     (), 'ifconfig_em0_alias0="inet 10.0.0.1/32"\nifconfig_em0_alias5="inet 10.0.0.5/32"\n' + ours(6, 7)),
    ("numeric-not-lexical",
     "ifconfig_em0_alias9=\"inet 10.0.0.9/32\"\nifconfig_em0_alias10=\"inet 10.0.0.10/32\"\n", "em0",
     SEED_PRISONERS, (),
     "ifconfig_em0_alias9=\"inet 10.0.0.9/32\"\nifconfig_em0_alias10=\"inet 10.0.0.10/32\"\n" + ours(11, 12)),
    ("commented-alias-is-not-an-alias", '#ifconfig_em0_alias0="inet 10.0.0.1/32"\n', "em0", SEED_PRISONERS, (),
     '#ifconfig_em0_alias0="inet 10.0.0.1/32"\n' + ours(0, 1)),
    ("present-any-netmask-spelling",
     'ifconfig_em0_alias3="inet 192.168.11.31/32"\nifconfig_em0_alias7="192.168.11.32 netmask 0xffffffff"\n',
     "em0", SEED_PRISONERS, (),
     'ifconfig_em0_alias3="inet 192.168.11.31/32"\nifconfig_em0_alias7="192.168.11.32 netmask 0xffffffff"\n'),
    ("present-one-of-two",
     "ifconfig_em0_alias2='inet 192.168.11.32 netmask 255.255.255.0'\n", "em0", SEED_PRISONERS, (),
     "ifconfig_em0_alias2='inet 192.168.11.32 netmask 255.255.255.0'\n" + OURS[0].format(3)),
    ("present-in-aliases", 'ifconfig_em0_aliases="inet 192.168.11.31/32 inet 192.168.11.32/32"\n', "em0",
     SEED_PRISONERS, (), 'ifconfig_em0_aliases="inet 192.168.11.31/32 inet 192.168.11.32/32"\n'),
    ("present-in-a-range", 'ifconfig_em0_alias0="inet 192.168.11.30-40/32"\n', "em0", SEED_PRISONERS, (),
     'ifconfig_em0_alias0="inet 192.168.11.30-40/32"\n'),
    ("present-in-ipv4_addrs", 'ipv4_addrs_em0="192.168.11.31/24 192.168.11.32/24"\n', "em0", SEED_PRISONERS, (),
     'ipv4_addrs_em0="192.168.11.31/24 192.168.11.32/24"\n'),
    ("netmask-is-not-an-address", 'ifconfig_em0_alias0="inet 10.0.0.1 netmask 192.168.11.31"\n', "em0",
     SEED_PRISONERS, (), 'ifconfig_em0_alias0="inet 10.0.0.1 netmask 192.168.11.31"\n' + ours(1, 2)),
    ("ipv6", "", "em0", (prisoner("v6", ["192.168.11.40"], ["2001:DB8:0::5"]),), (),
     'ifconfig_em0_alias0="inet 192.168.11.40 netmask 255.255.255.255"\n'
     'ifconfig_em0_alias1="inet6 2001:db8::5 prefixlen 128"\n'),
    ("ipv6-present", 'ifconfig_em0_ipv6="inet6 2001:db8:0:0::5 prefixlen 64"\n', "em0",
     (prisoner("v6", (), ["2001:db8::5"]),), (), 'ifconfig_em0_ipv6="inet6 2001:db8:0:0::5 prefixlen 64"\n'),
    ("vlan-interface-name", "", "em0.100", (prisoner("v", ["10.0.0.7"]),), (),
     'ifconfig_em0_100_alias0="inet 10.0.0.7 netmask 255.255.255.255"\n'),
    ("absent-prisoner-not-added", "", "em0", P1_ABSENT, (), OURS[0].format(0)),
    ("remove-leaves-a-gap",
     'ifconfig_em0_alias0="inet 192.168.11.20/24"\n' + ours(1, 2) + 'ifconfig_em0_alias3="inet 10.0.0.3/32"\n',
     "em0", P1_ABSENT, ("prisoner2",),
     'ifconfig_em0_alias0="inet 192.168.11.20/24"\n' + OURS[0].format(1) + 'ifconfig_em0_alias3="inet 10.0.0.3/32"\n'),
    ("remove-matches-by-address",
     "ifconfig_em0_alias4='inet 192.168.11.32/32'   # was prisoner2\n", "em0", P1_ABSENT, ("prisoner2",),
     OURS[0].format(0)),
    ("remove-spares-shared-lines",
     'ifconfig_em0_alias0="inet 192.168.11.32/32 inet 10.0.0.1/32"\nifconfig_lo1_alias0="inet 192.168.11.32/32"\n',
     "em0", P1_ABSENT, ("prisoner2",),
     'ifconfig_em0_alias0="inet 192.168.11.32/32 inet 10.0.0.1/32"\nifconfig_lo1_alias0="inet 192.168.11.32/32"\n'
     + OURS[0].format(1)),
]


@pytest.mark.parametrize("old, interface, prisoners, remove, new",
                         [case[1:] for case in ALIASES], ids=[case[0] for case in ALIASES])
def test_aliases(old, interface, prisoners, remove, new):
    cfg = config(prisoners=prisoners, interface=interface)
    texts, _ = apply_plan(cfg, {RC: ENABLED + old}, remove)
    assert texts[RC] == ENABLED + new


def test_aliases_in_other_netif_files_count_for_numbering_and_presence():
    texts = {RC: ENABLED, RC_LOCAL: 'ifconfig_em0_alias4="inet 10.0.0.4/32"\n',
             "/etc/rc.conf.d/network": 'ifconfig_em0_alias1="inet 192.168.11.31/32"\n'}
    new, _ = apply_plan(config(), texts)
    assert new[RC] == ENABLED + OURS[1].format(5)
    assert new[RC_LOCAL] == texts[RC_LOCAL]


def test_an_address_on_another_interface_is_added_with_a_note():
    new, plan = apply_plan(config(), {RC: ENABLED + 'ifconfig_lo1_alias0="inet 192.168.11.31/32"\n'})
    assert new[RC].endswith(ours(0, 1))
    assert any("192.168.11.31 is also configured by ifconfig_lo1_alias0" in note for note in plan.notes)


def test_the_interface_note_comes_with_aliases_only():
    _, plan = apply_plan(config(), {RC: ENABLED})
    assert any("jail(8) adds each prisoner address to em0" in note for note in plan.notes)
    _, plan = apply_plan(config(**NO_ALIASES), {RC: ENABLED})
    assert plan.notes == ()


def test_removing_a_prisoner_the_pillar_does_not_describe_is_noted():
    new, plan = apply_plan(config(), {RC: ENABLED + ours(0, 1) + 'jail_list="old"\n'}, ("old",))
    assert new[RC] == ENABLED + ours(0, 1) + 'jail_list="prisoner1 prisoner2"\n'
    assert any(note.startswith("old is not in the pillar") for note in plan.notes)


@pytest.mark.parametrize("old", ['ifconfig_em0_alias2=""\n', "ifconfig_em0_alias0=''\n"])
def test_an_empty_alias_blocks_new_ones(old):
    with pytest.raises(JailprovError, match="stops reading ifconfig_em0_aliasN"):
        rcconf.plan_rc_conf(config(), {RC: ENABLED + old})


def test_an_empty_alias_is_no_obstacle_when_nothing_is_added():
    text = ENABLED + 'ifconfig_em0_alias0=""\n' + ours(1, 2)
    assert rcconf.plan_rc_conf(config(), {RC: text}).files == {}


def test_an_admin_alias_salt_jail_cannot_read_still_counts_for_numbering():
    old = ENABLED + 'ifconfig_em0_alias3="inet ${myip}/32"\n'
    new, _ = apply_plan(config(), {RC: old})
    assert new[RC] == old + ours(4, 5)


def test_a_bad_prisoner_address_is_a_validation_error():
    cfg = config(prisoners=(prisoner("p", ["300.1.1.1"]),))
    with pytest.raises(ValidationError, match="jailprov:prisoners:p:ip4"):
        rcconf.plan_rc_conf(cfg, {})


def test_the_seed_plan_on_an_admins_host_matches_the_golden_file():
    old = (FIXTURES / "admin_host.rc.conf").read_text(encoding="utf-8")
    new, plan = apply_plan(config(), {RC: old})
    assert new[RC] == (FIXTURES / "admin_host.seed.expected").read_text(encoding="utf-8")
    assert list(plan.files) == [RC]


@st.composite
def hosts(draw):
    """An rc.conf with random admin aliases and jail_list, and a random set of prisoners."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        interface = draw(st.sampled_from(["em0", "lo1"]))
        number = draw(st.integers(0, 12))
        address = f"192.168.11.{draw(st.integers(30, 35))}"
        mask = draw(st.sampled_from([" netmask 255.255.255.255", "/32", "/24", ""]))
        lines.append(f'ifconfig_{interface}_alias{number}="inet {address}{mask}"\n')
    if draw(st.booleans()):
        lines.append(f'jail_list="{" ".join(draw(st.lists(st.sampled_from(["p0", "p1", "p10", "web"]))))}"\n')
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["jail_enable=yes\n", "jail_enable='NO'  # x\n"])))
    names = draw(st.lists(st.integers(0, 4), unique=True, max_size=4))
    prisoners = tuple(prisoner(f"p{n}", [f"192.168.11.{30 + n}"], absent=draw(st.booleans())) for n in names)
    remove = tuple(p.name for p in prisoners if p.absent)
    return "".join(lines), prisoners, remove


@settings(max_examples=150, deadline=None)
@given(host=hosts(), jail_list=st.sampled_from(["auto", "explicit"]))
def test_planning_twice_is_planning_once_and_keeps_every_admin_line(host, jail_list):
    old, prisoners, remove = host
    cfg = config(prisoners=prisoners, jail_list=jail_list)
    texts, _ = apply_plan(cfg, {RC: old}, remove)   # asserts the second plan is empty
    new_lines = texts[RC].splitlines()
    managed = ("jail_enable=", "jail_list=", "ifconfig_em0_alias")
    for line in old.splitlines():
        assert line in new_lines or line.startswith(managed)
    conf = rcconf.parse(texts[RC])
    assert rcconf.checkyesno(conf.get("jail_enable")) is True
    present = [p.name for p in prisoners if not p.absent]
    words = conf.get("jail_list", "").split()
    assert not set(remove) & set(words)
    assert not words or set(present) <= set(words)
