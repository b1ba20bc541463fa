"""jail.conf's collected records are kept per parsed text and indexed by name: the same answers as collecting
afresh, and a changed included file is always seen."""

from salt_jail.core.formats import jailconf


def reader(files):
    return lambda pattern: [(path, text) for path, text in files.items()
                            if jailconf.glob_match(pattern, path)]


def test_an_included_file_that_changes_is_read_again():
    files = {"/etc/jail.conf": '.include "/etc/jail.conf.d/*.conf";\n',
             "/etc/jail.conf.d/a.conf": "a { path = /a; }\n"}
    read = reader(files)
    assert jailconf.defined_jails("/etc/jail.conf", read=read) == ["a"]
    assert jailconf.effective_params("/etc/jail.conf", "a", read=read)["path"] == ["/a"]
    files["/etc/jail.conf.d/a.conf"] = "a { path = /moved; }\n"
    assert jailconf.effective_params("/etc/jail.conf", "a", read=read)["path"] == ["/moved"]
    files["/etc/jail.conf.d/b.conf"] = "b { path = /b; }\n"
    assert jailconf.defined_jails("/etc/jail.conf", read=read) == ["a", "b"]
    del files["/etc/jail.conf.d/a.conf"]
    assert jailconf.defined_jails("/etc/jail.conf", read=read) == ["b"]


def test_many_jails_wildcards_and_order():
    text = "".join(f"j{i} {{ path = /j/{i}; }}\n" for i in range(300)) + "* { allow.raw_sockets; }\nj1 { persist; }\n"
    doc = jailconf.parse(text, "/etc/jail.conf")
    assert jailconf.defined_jails(doc) == [f"j{i}" for i in range(300)]
    params = jailconf.effective_params(jailconf.parse("exec.clean;\nx { path = /x; }\n" + text, "/etc/jail.conf"), "j7")
    assert params["path"] == ["/j/7"] and params["allow.raw_sockets"] is True
    try:
        jailconf.effective_params(doc, "j1")
    except jailconf.JailprovError as exc:
        assert "defined 2 times" in str(exc)
    else:
        raise AssertionError("a jail defined twice was evaluated")
