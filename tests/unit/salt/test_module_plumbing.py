"""Execution-module plumbing: progress events to the master when there is one, else only where a minion event
bus exists; the rehearsal set up once per run."""

import pytest

from salt_jail.modules import jailprov


@pytest.fixture
def module(monkeypatch, tmp_path):
    fired = []
    answers = {"value": True}

    def send(tag, data):
        fired.append((tag, data))
        return answers["value"]

    # masterless (salt-call --local) unless a test says otherwise
    monkeypatch.setattr(jailprov, "__opts__", {"id": "jailer1", "file_client": "local", "sock_dir": str(tmp_path)},
                        raising=False)
    monkeypatch.setattr(jailprov, "__context__", {}, raising=False)
    monkeypatch.setattr(jailprov, "__salt__", {"event.send": send}, raising=False)
    return tmp_path, fired, answers


EVENT = {"what": "release/decompress", "done": 1, "total": 2}


def test_no_bus_no_event(module):
    _sock_dir, fired, _answers = module
    for _ in range(3):
        jailprov._fire_progress(EVENT)
    assert fired == []


def test_bus_present_events_fired(module):
    sock_dir, fired, _answers = module
    (sock_dir / "minion_event_0123456789_pull.ipc").touch()
    jailprov._fire_progress(EVENT)
    jailprov._fire_progress(EVENT)
    assert [tag for tag, _ in fired] == ["jailprov/release/decompress/jailer1"] * 2
    assert fired[0][1] == dict(EVENT, minion="jailer1", step="release/decompress", prisoner=None)


def test_a_bus_that_does_not_answer_is_asked_once(module):
    sock_dir, fired, answers = module
    (sock_dir / "minion_event_0123456789_pull.ipc").touch()
    answers["value"] = False
    for _ in range(3):
        jailprov._fire_progress(EVENT)
    assert len(fired) == 1


def test_tcp_ipc_mode_tries_the_bus(module, monkeypatch):
    _sock_dir, fired, _answers = module
    monkeypatch.setattr(jailprov, "__opts__", {"file_client": "local", "ipc_mode": "tcp", "sock_dir": "/nonexistent"},
                        raising=False)
    jailprov._fire_progress(EVENT)
    assert len(fired) == 1


@pytest.mark.parametrize("opts", [{"id": "jailer1"}, {"id": "jailer1", "file_client": "remote"},
                                  {"id": "jailer1", "file_client": "local", "use_master_when_local": True}])
def test_with_a_master_events_go_to_it_with_minion_prisoner_step_and_bytes(module, monkeypatch, opts):
    _sock_dir, fired, _answers = module            # no minion bus in sock_dir: the master is asked all the same
    monkeypatch.setattr(jailprov, "__opts__", dict(opts, sock_dir="/nonexistent"), raising=False)
    event = {"what": "release/extract", "dist": "base", "prisoner": "prisoner1", "done": 5, "total": 10,
             "percent": 50}
    jailprov._fire_progress(event)
    assert fired == [("jailprov/release/extract/jailer1/prisoner1",
                      dict(event, minion="jailer1", step="release/extract"))]


def test_a_master_that_does_not_answer_is_asked_once(module, monkeypatch):
    _sock_dir, fired, answers = module
    monkeypatch.setattr(jailprov, "__opts__", {"id": "jailer1"}, raising=False)
    answers["value"] = False
    for _ in range(3):
        jailprov._fire_progress(EVENT)
    assert len(fired) == 1


def test_rehearsal_setup_once_per_run_and_again_when_the_root_was_wiped(module, monkeypatch, tmp_path):
    from salt_jail import rehearsal

    calls = []
    real_setup = rehearsal.setup
    monkeypatch.setattr(rehearsal, "setup", lambda root: calls.append(root) or real_setup(root))
    root = str(tmp_path / "scratch")
    first = jailprov._rehearsal_bindir(root)
    assert jailprov._rehearsal_bindir(root) == first and calls == [root]
    import shutil
    shutil.rmtree(root)                                   # wiped between two calls: set up again
    assert jailprov._rehearsal_bindir(root) == first and calls == [root, root]
    assert (tmp_path / "scratch" / ".rehearsal" / "bin" / "jls").exists()
