"""jail.conf corpus tier: real-world files from ../shared/jailconf-corpus and FreeBSD's own examples.

Every well-formed file parses to statements that, written again from their parsed fields alone, parse to
the same statements and parameters (a parser that understood nothing cannot pass: ``render()`` only
returns the stored text); every file's jails have the parameters the rehearsal's independent reader of
jail.conf (written from usr.sbin/jail's jaillex.l, jailparse.y and config.c) gives them; every file
survives adding/replacing/removing a managed block with all foreign bytes kept; the two files SOURCES.md
marks MALFORMED raise ParseError at the line that lacks its ';', and the rehearsal's reader refuses them
too.  Skipped when the shared directory is absent.
"""

import re

import pytest

from salt_jail.core.formats import jailconf
from salt_jail.core.errors import JailprovError, ParseError
from salt_jail.rehearsal import jailcfg
from tests.support.paths import shared_dir

from tests.support.jailconf_roundtrip import canonical, product_params, shape, standin_params

SHARED = shared_dir()
CORPUS = SHARED / "jailconf-corpus" if SHARED else None
if CORPUS is None or not (CORPUS / "jail.conf").is_dir():
    pytest.skip("the shared jail.conf corpus (../shared/jailconf-corpus, or $SALT_JAIL_SHARED) is absent",
                allow_module_level=True)

FILES = sorted(p.name for p in (CORPUS / "jail.conf").iterdir())
MALFORMED = sorted(re.findall(r"^\| `([^`]+)` \|.*MALFORMED", (CORPUS / "SOURCES.md").read_text(), re.M))
WELL_FORMED = [name for name in FILES if name not in MALFORMED]
# The line that lacks its ';' in each malformed file.
MALFORMED_LINES = {"indgy__app-jail__jail.conf": 6, "tmmvn__bsd-configs__jails_jail.conf": 13}
# The skhal pair: the host file includes /etc/jail.conf.d/*.conf, which holds www.conf.
SKHAL_HOST = "skhal__lab__cluster_net.lab.nuc_etc_jail.conf"
SKHAL_WWW = "skhal__lab__cluster_net.lab.nuc_etc_jail.conf.d_www.conf"
# Includes a fixed file that is not part of the corpus: jail(8) would refuse it.
MISSING_INCLUDE = "christian-moerz__eurobsdcon24__jail.conf"
MANAGED = [("jid", 42), ("path", "/home/jail/salt-managed"), ("ip4.addr", "192.168.11.99"),
           ("host.hostname", "salt-managed.example.org"), ("exec.start", "/bin/sh /etc/rc"), ("persist", True)]


def raw(name):
    return (CORPUS / "jail.conf" / name).read_bytes()


def text(name):
    return raw(name).decode("utf-8")


def reader(name):
    """The ``read`` callback for one corpus file, playing the part of the host's /etc."""
    def read(pattern):
        if name == SKHAL_HOST and pattern == "/etc/jail.conf.d/*.conf":
            return [("/etc/jail.conf.d/www.conf", text(SKHAL_WWW))]
        return []
    return read


def evaluate_all(doc, name, jails=None):
    if jails is None:
        jails = jailconf.defined_jails(doc, read=reader(name))
    return {jail: jailconf.effective_params(doc, jail, read=reader(name)) for jail in jails}


def test_corpus_is_complete():
    assert len(FILES) == 25 and len(WELL_FORMED) == 23
    assert MALFORMED == sorted(MALFORMED_LINES)


@pytest.mark.parametrize("name", WELL_FORMED)
def test_parsed_statements_round_trip(name):
    """Written again from what was parsed (never from the stored text), the file parses to the same statements
    and gives every jail the same parameters."""
    doc = jailconf.parse(text(name), name)
    assert doc.statements
    again = jailconf.parse(canonical(doc.statements), name)
    assert shape(again.statements) == shape(doc.statements)
    if name == MISSING_INCLUDE:
        return
    assert product_params(again.render(), name, reader(name)) == product_params(text(name), name, reader(name))


@pytest.mark.parametrize("name", WELL_FORMED)
def test_every_jail_has_the_parameters_jail8_would_give_it(name):
    """The product's evaluation against the rehearsal's own reader of jail.conf (jaillex.l, jailparse.y,
    config.c's load_config()): two readers written apart, one answer."""
    if name == MISSING_INCLUDE:       # config.c include_config(): a file named without a glob must exist
        with pytest.raises(jailcfg.ConfigError, match="/etc/jail.conf.d/JAILNAME.template: No such file"):
            standin_params(text(name), name, reader(name))
        return
    product = product_params(text(name), name, reader(name))
    assert sorted(product) == sorted(set(jailconf.parse(text(name)).jails() + (["www"] if name == SKHAL_HOST else [])))
    assert product == standin_params(text(name), name, reader(name))


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_files_raise_at_the_missing_semicolon(name):
    with pytest.raises(ParseError) as info:
        jailconf.parse(text(name), name)
    assert (info.value.filename, info.value.line) == (name, MALFORMED_LINES[name])
    assert "expected ';' after value" in info.value.message
    # jail(8) refuses them too: yacc reports the token after the missing ';', on the next line.
    with pytest.raises(jailcfg.ConfigError, match=rf"^{re.escape(name)} line {MALFORMED_LINES[name] + 1}: "
                                                    r"\S+: syntax error$"):
        jailcfg.load(text(name), name, reader(name))


@pytest.mark.parametrize("name", WELL_FORMED)
def test_managed_block_added_then_removed_keeps_every_foreign_byte(name):
    original = text(name)
    doc = jailconf.parse(original, name)
    jails = doc.jails()
    assert doc.set_block("salt-managed", MANAGED) is True
    added = doc.render()
    assert added.startswith(original)
    assert added.endswith("\n\n" + jailconf.render_block("salt-managed", MANAGED))
    assert jailconf.parse(added).jails() == jails + ["salt-managed"]
    assert doc.set_block("salt-managed", MANAGED) is False
    assert doc.remove_block("salt-managed") is True
    assert doc.render() == (original if original.endswith("\n") else original + "\n")


@pytest.mark.parametrize("name", [n for n in WELL_FORMED if jailconf.parse(text(n)).jails()])
def test_replacing_a_jail_block_keeps_the_rest_of_the_file(name):
    original = text(name)
    doc = jailconf.parse(original, name)
    target = next(b for b in doc.statements if isinstance(b, jailconf.Block) and b.name in doc.jails())
    others = [j for j in doc.jails() if j != target.name]
    before = None if name == MISSING_INCLUDE else evaluate_all(doc, name, others)
    doc.set_block(target.name, MANAGED)
    new = doc.render()
    assert new.startswith(original[:target.start].rstrip(" \t"))
    assert new.endswith(original[target.end:].lstrip(" \t").lstrip("\n"))
    assert [j for j in doc.jails() if j != target.name] == others
    assert [(p.key, p.value) for p in doc.block(target.name)] == [
        (k, v if isinstance(v, bool) else [str(v)]) for k, v in MANAGED]
    if before is not None:  # the other jails read exactly as before
        assert evaluate_all(doc, name, others) == before


@pytest.mark.parametrize("name", WELL_FORMED)
def test_every_jail_evaluates(name):
    doc = jailconf.parse(text(name), name)
    if name == MISSING_INCLUDE:
        with pytest.raises(JailprovError, match="included file /etc/jail.conf.d/JAILNAME.template does not exist"):
            evaluate_all(doc, name)
        return
    params = evaluate_all(doc, name)
    assert sorted(params) == sorted(set(doc.jails() + (["www"] if name == SKHAL_HOST else [])))
    for jail, values in params.items():
        assert values["name"] == [jail]
        strings = [v for value in values.values() if isinstance(value, list) for v in value]
        assert not [v for v in strings if "$" in v]  # every reference was substituted


SPOT_CHECKS = [
    # (file, jail, parameter, value) — late binding, wildcards, includes, no-prefix, += lists
    ("skunkwerks__diy-jails__etc_jail.conf", "z2", "ip4.addr", ["10.240.0.2"]),
    ("trasz__confctl__tests_jail.conf", "bar", "mount.devfs", False),
    ("trasz__confctl__tests_jail.conf", "foo", "path", ["/var/jail/foo"]),
    ("trasz__confctl__tests_jail.conf", "foo", "ip4.addr", ["10.1.1.1", "10.1.1.2", "10.1.1.3"]),
    ("paulc__freebsd-ipv6-jail__files_jail.conf", "base", "exec.start", [
        "sysrc ifconfig_epair1b_ipv6='inet6 IPV6_PREFIX::1000:1/64'", "sysrc ipv6_defaultrouter=fe80::1%epair1b",
        "/bin/sh /etc/rc"]),
    ("dang0x5f__dot_files__jail.conf", "nginx", "vnet.interface", ["epair11b"]),
    ("JozanLeClerc__joe-conf__etc_jail.conf", "wireguard", "exec.start", [
        "/sbin/ifconfig lo0 127.0.0.1 up", "/sbin/ifconfig epair4b inet 10.0.0.4 netmask 255.255.255.255",
        "/sbin/route add default 10.0.0.254", "/bin/sh /etc/rc"]),
    ("gmshake__jail-crash__jail.conf", "test2", "exec.poststop", ["/sbin/ifconfig epair20a destroy"]),
    ("hxw__dotfiles__jail_jail.conf", "phab", "exec.created", [
        "zfs unjail phab zroot/jails/phab/poudriere || true", "zfs jail phab zroot/jails/phab/poudriere"]),
    ("mattaudesse__mattaudesse.com__etc_jail_jail.conf", "mattaudesse-com", "path", [
        "/usr/local/bastille/jails/mattaudesse-com/root"]),
    ("NeoTorino__FreeBSD__etc_jail.conf", "base", "ip4.addr", ["lo1|172.16.1.1/32"]),
    ("KGuillemot__vulture-from-scratch__config_jail.conf", "rsyslog", "devfs_ruleset", ["7"]),
    (SKHAL_HOST, "www", "depend", ["dns", "ldap"]),
    (SKHAL_HOST, "www", "exec.created", [
        "/bin/sh /usr/local/etc/rc.jail created www bridge0:192.168.1.4/24 bridge1:10.0.1.4/24"]),
    (SKHAL_HOST, "www", "exec.consolelog", ["/var/log/jail_www.log"]),
]


@pytest.mark.parametrize("name, jail, param, value", SPOT_CHECKS, ids=[f"{s[0]}:{s[1]}:{s[2]}" for s in SPOT_CHECKS])
def test_spot_checks(name, jail, param, value):
    doc = jailconf.parse(text(name), "/etc/jail.conf")
    assert jailconf.effective_params(doc, jail, read=reader(name))[param] == value


# FreeBSD's own example files: jail.conf syntax, except rcjail.*.conf which is an rc.conf fragment.
EXAMPLES = sorted((SHARED / "freebsd-ref" / "examples").glob("**/*.conf"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_freebsd_examples(path):
    source = path.read_text(encoding="utf-8")
    if path.name.startswith("rc"):
        with pytest.raises(ParseError, match="expected ';' after value"):
            jailconf.parse(source, path.name)
        return
    doc = jailconf.parse(source, path.name)
    assert doc.jails()
    assert shape(jailconf.parse(canonical(doc.statements)).statements) == shape(doc.statements)
    params = product_params(source, path.name, lambda pattern: [])
    assert params == standin_params(source, path.name, lambda pattern: [])
    for jail in doc.jails():
        assert params[jail]["name"] == [jail]
