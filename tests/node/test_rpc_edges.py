"""rpc.call at its edges: keyword arguments, what cannot travel, and errors that say what to do."""

import pytest

pytestmark = pytest.mark.timeout(120)


def _raised(node, src):
    """The exception ``src`` raised on ``node``: ``(type name, message)``."""
    node.eval(
        f"try:\n    {src}\n    caught = None\nexcept BaseException as err:\n    caught = (type(err).__name__, str(err))"
    )
    return eval(node.value("caught"))


def test_keyword_arguments_pass_through(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(
        "class Counter(GenServer):\n"
        "    def init(self, n):\n"
        "        return ('ok', n)\n"
        "    def handle_call(self, request, _from, n):\n"
        "        return ('reply', n + 1, n + 1)"
    )
    # the README's habit: start a named server on another node
    assert a.value(f"rpc.call({b.full!r}, GenServer.start, Counter, 0, name='Counter')[0]") == "'ok'"
    assert a.value(f"GenServer.call(('Counter', {b.full!r}), 'bump')") == "1"
    assert a.value(f"rpc.call({b.full!r}, dict, x=1, timeout=5.0)") == "{'x': 1}"
    assert a.value(f"rpc.multicall([{b.full!r}], dict, y=2)") == "([{'y': 2}], [])"


def test_an_unpicklable_closure_names_the_users_variable(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval("import threading; lock = threading.Lock()\ndef uses_lock():\n    return lock.locked()")
    kind, msg = _raised(a, f"rpc.call({b.full!r}, uses_lock)")
    assert kind == "TypeError"
    assert f"rpc.call: cannot send uses_lock to {b.full}: it uses 'lock', a lock" in msg, msg
    assert "_run_and_reply" not in msg and "RUNTIME" not in msg


def test_a_cookie_mismatch_says_the_cookies_differ(nodes):
    a = nodes.start("a")
    other = nodes.start("o", "--cookie", "another-cookie")
    kind, msg = _raised(a, f"rpc.call({other.full!r}, node)")
    assert kind == "Exit"
    assert msg.startswith(f"rpc.call: cannot connect to {other.full}: the cookies differ"), msg
    assert "down or unreachable" not in msg


def test_no_empty_remote_traceback(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    kind, msg = _raised(a, f"rpc.call({b.full!r}, lambda: __import__('threading').Lock())")
    assert kind == "RemoteError" and "the result lock cannot be sent back" in msg, msg
    assert "remote traceback" not in msg
    # a real exception keeps its remote traceback: the user's frames, not pydist's carrier
    a.eval(f"try:\n    rpc.call({b.full!r}, lambda: 1 / 0)\nexcept ZeroDivisionError as e:\n    why = str(e.__cause__)")
    why = eval(a.value("why"))
    assert f"--- remote traceback from {b.full} ---" in why and "in <lambda>" in why, why
    assert "_run_and_reply" not in why


def test_a_module_the_remote_lacks_says_to_load_it(nodes, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "stackmod.py").write_text("class Stack:\n    pass\n")
    a = nodes.start("a", cwd=here)
    b = nodes.start("b", cwd=there)
    a.eval("import stackmod")
    kind, msg = _raised(a, f"rpc.call({b.full!r}, stackmod.Stack)")
    assert kind == "Exit"
    assert f"the module 'stackmod', which {b.full} cannot import" in msg and "nl(stackmod)" in msg, msg
    # the advice works: nl (the prompt's helper) loads it there, and the call goes through
    a.eval("from pydist._repl.load import make_loaders; c, nl = make_loaders(globals()); nl(stackmod)")
    assert a.value(f"type(rpc.call({b.full!r}, stackmod.Stack)).__name__") == "'Stack'"


def test_a_message_nested_too_deeply_says_so(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    b.eval("Process.register(self(), 'inbox')")
    a.eval("deep = 'x'\nfor _ in range(1500):\n    deep = [deep]")
    kind, msg = _raised(a, f"send(('inbox', {b.full!r}), deep)")
    assert kind == "TypeError" and msg.startswith(f"send: cannot send this message to {b.full}: it is nested"), msg
    assert "more than about 1,000" in msg and "locks, sockets" not in msg
    kind, msg = _raised(a, f"Node.spawn({b.full!r}, print, deep)")
    assert "'argument 1', a list, is nested too deeply to be pickled" in msg and "locks" not in msg, msg
    # a deep message that pickle can take still arrives
    a.eval(f"ok = 'x'\nfor _ in range(500):\n    ok = (ok,)\nsend(('inbox', {b.full!r}), ok)")
    b.eval("d = receive(timeout=30)\nn = 0\nwhile type(d) is tuple:\n    d, n = d[0], n + 1")
    assert b.value("n") == "500"
