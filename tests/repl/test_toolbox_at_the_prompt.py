"""The OTP toolbox typed at two prompts, as a class would after the lecture: a global
name, a task on the other node, a process group, i() and a timer, in real terminals."""

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(180)


def test_global_task_pg_i_and_a_timer_at_two_prompts(terms):
    foo = terms("--sname", unique("foo"))
    bar = terms("--sname", unique("bar"))
    foo_full = foo.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    bar_full = bar.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    bar.line(f"Node.ping('{foo_full}')")
    bar.expect("'pong'")
    bar.expect(f"pydist({bar_full})2>")

    # foo: a counter under a global name
    foo.line("class Counter(GenServer):")
    foo.line("    def handle_call(self, req, from_, n):")
    foo.line("        return ('reply', (n, node()), n + 1)")
    foo.line("")
    foo.expect(f"pydist({foo_full})2>")
    foo.line("GenServer.start(Counter, 0, name=('via', Global, 'counter'))")
    foo.expect(f"('ok', #PID<{foo_full}.")
    foo.expect(f"pydist({foo_full})3>")
    # bar: calls it by that name, and sees the name
    bar.line("GenServer.call(('via', Global, 'counter'), 'next')")
    bar.expect(f"(0, '{foo_full}')")
    bar.expect(f"pydist({bar_full})3>")
    bar.line("Global.registered_names()")
    bar.expect("['counter']")
    bar.expect(f"pydist({bar_full})4>")
    # bar: a task on foo, its value back here
    bar.line(f"Task.await_(Task.async_(lambda: (6 * 7, node()), node='{foo_full}'))")
    bar.expect(f"(42, '{foo_full}')")
    bar.expect(f"pydist({bar_full})5>")
    # both prompts join a group; each sees both members
    foo.line("pg.join('class', self())")
    foo.expect("'ok'")
    foo.expect(f"pydist({foo_full})4>")
    bar.line("pg.join('class', self())")
    bar.expect("'ok'")
    bar.expect(f"pydist({bar_full})6>")
    bar.line("sorted(p.node for p in pg.get_members('class'))")
    bar.expect(repr(sorted([foo_full, bar_full])))
    bar.expect(f"pydist({bar_full})7>")
    # foo: i() shows the counter and the system processes
    foo.line("i()")
    foo.expect("GenServer Counter")
    foo.expect("[system: Global name server]")
    foo.expect(f"processes on {foo_full}")
    foo.expect(f"pydist({foo_full})5>")
    # a timer: sent, cancelled before it fires, read after
    foo.line("ref = Timer.send_after(30, self(), 'too late')")
    foo.expect(f"pydist({foo_full})6>")
    foo.line("Timer.cancel(ref), Timer.read(ref)")
    foo.expect("(('ok', 'cancel'), False)")
    foo.expect(f"pydist({foo_full})7>")
    foo.line("Timer.send_after(0.2, self(), 'on time'); receive(5)")
    foo.expect("'on time'")
    foo.expect(f"pydist({foo_full})8>")
