"""hosts.set_addresses: old text -> new text, table-driven."""

import pathlib

import pytest

from salt_jail.core.formats.hosts import set_addresses

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "files"
LO = "127.0.0.1\t\tlocalhost localhost.my.domain\n"
FQDN, SHORT = "web.example.org", "web"
V4 = f"10.0.0.5\t\t{FQDN} {SHORT}\n"
V6 = f"fd00::5\t\t{FQDN} {SHORT}\n"

CASES = [
    # (id, old, addresses, new, words expected in the note)
    ("append", LO, ["10.0.0.5"], LO + V4, "added 10.0.0.5"),
    ("append-ipv4-and-ipv6-in-order", LO, ["10.0.0.5", "fd00::5"], LO + V4 + V6, "added 10.0.0.5, fd00::5"),
    ("already-present", LO + V4, ["10.0.0.5"], LO + V4, ""),
    ("present-with-other-blanks-is-kept", LO + f"10.0.0.5 {FQDN}   {SHORT}\n", ["10.0.0.5"],
     LO + f"10.0.0.5 {FQDN}   {SHORT}\n", ""),
    ("names-compared-case-insensitively", LO + "10.0.0.5\t\tWEB.example.org Web\n", ["10.0.0.5"],
     LO + "10.0.0.5\t\tWEB.example.org Web\n", ""),
    ("same-address-other-name-replaced-in-place", f"10.0.0.5\told.example.org old\n{LO}", ["10.0.0.5"],
     V4 + LO, "replaced stale line for 10.0.0.5"),
    ("same-name-other-address-replaced-in-place", f"# mine\n10.0.0.9\t{FQDN} {SHORT}\n{LO}", ["10.0.0.5"],
     "# mine\n" + V4 + LO, "removed stale line for 10.0.0.9"),
    ("shortname-only-stale", f"10.0.0.9\t{SHORT}\n{LO}", ["10.0.0.5"], V4 + LO, "removed stale line"),
    ("shared-line-keeps-other-names", f"127.0.0.1\tlocalhost {SHORT}\n", ["10.0.0.5"],
     "127.0.0.1\t\tlocalhost\n" + V4, "removed web from the line for 127.0.0.1"),
    ("duplicate-address-lines-collapse", V4 + LO + "10.0.0.5\tweb\n", ["10.0.0.5"], V4 + LO, "duplicate"),
    ("ipv6-compared-as-addresses", f"fd00:0:0::5\told\n{LO}", ["fd00::5"], V6 + LO, "replaced"),
    ("comments-untouched", f"#10.0.0.5\t{FQDN} {SHORT}\n{LO}", ["10.0.0.5"],
     f"#10.0.0.5\t{FQDN} {SHORT}\n{LO}{V4}", "added"),
    ("trailing-comment-is-not-a-name", f"10.0.0.7\tmail # {SHORT} lives elsewhere\n", ["10.0.0.5"],
     f"10.0.0.7\tmail # {SHORT} lives elsewhere\n{V4}", "added"),
    ("no-trailing-newline", LO.rstrip("\n"), ["10.0.0.5"], LO + V4, "added"),
    ("no-trailing-newline-kept-when-editing-in-place", "10.0.0.5\told", ["10.0.0.5"], V4.rstrip("\n"), "replaced"),
    ("empty-file", "", ["10.0.0.5"], V4, "added"),
]


@pytest.mark.parametrize("old,addresses,new,note", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_set_addresses(old, addresses, new, note):
    got, got_note = set_addresses(old, addresses, FQDN, SHORT)
    assert got == new
    assert note in got_note
    assert set_addresses(got, addresses, FQDN, SHORT) == (got, "")  # idempotent


def test_single_label_hostname_is_written_once():
    assert set_addresses("", ["10.0.0.5"], "web", "web")[0] == "10.0.0.5\t\tweb\n"


def test_fixture_keeps_every_line():
    old = (FIXTURES / "hosts").read_text()
    new, _ = set_addresses(old, ["10.0.0.5", "fd00::5"], FQDN, SHORT)
    assert new == old + V4 + V6
