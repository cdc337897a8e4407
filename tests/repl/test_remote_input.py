"""``input()`` in a process whose group leader is another node's prompt (Erlang's I/O protocol).

The read goes to the group leader: the home prompt shows the question, the
next line typed at home answers it, Ctrl-C there cancels it, and a reader
that dies frees the terminal. The remote node's own terminal is never read.
"""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(180)


def _two(terms):
    a = terms("--sname", unique("home"))
    b = terms("--sname", unique("far"))
    af = a.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    bf = b.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    return a, af, b, bf


def test_the_home_prompt_asks_and_the_next_line_typed_answers(terms):
    a, af, b, bf = _two(terms)
    a.line(f"Node.spawn('{bf}', lambda: print('hello', input('name? ')))")
    a.expect(f"#PID<{bf}.")  # the entry's value; the question comes after it
    a.expect("name?")  # the question is the prompt now
    a.line("Bob")  # typed at home: an answer, not code (Bob would be a NameError)
    a.expect("hello Bob")
    a.expect(f"pydist({af})2>")
    assert "NameError" not in a.text
    # the far node's terminal was never read: its prompt answers at once
    b.line("'still mine'")
    b.expect("'still mine'")
    assert "name?" not in b.text and "hello" not in b.text


def test_a_busy_prompt_asks_too(terms):
    # the habit: spawn the reader, then wait for its answer in receive()
    a, af, _b, bf = _two(terms)
    a.line(f"me = self(); Node.spawn('{bf}', lambda: send(me, input('age? '))); receive(timeout=60)")
    a.expect(f"pydist({af})1>")
    a.expect("age?")
    a.line("42")
    a.expect("'42'")  # the receive got the answer: the entry's value
    a.expect(f"pydist({af})2>")


def test_ctrl_c_cancels_the_read_and_a_dead_reader_frees_the_terminal(terms):
    a, af, b, bf = _two(terms)
    a.line(f"Node.spawn('{bf}', lambda: input('name? '))")
    a.expect(f"#PID<{bf}.")
    a.expect("name?")
    a.ctrl("c")
    a.expect("KeyboardInterrupt: input(): the read was cancelled with Ctrl-C on")  # the reader's crash report
    a.expect(f"pydist({af})2>")
    a.line("1 + 1")
    a.expect("2")
    a.expect(f"pydist({af})3>")

    a.line(f"Node.spawn('{bf}', lambda: (Process.register(self(), 'asker'), input('quest? ')))")
    a.expect(f"#PID<{bf}.")
    a.expect("quest?")
    b.line("Process.exit(Process.whereis('asker'), 'kill')")
    a.expect("stopped waiting for input (it ended); the prompt is back")
    a.expect(f"pydist({af})4>")
    a.line("2 + 2")  # runs as code again
    a.expect("4")
    a.expect(f"pydist({af})5>")


def test_a_half_typed_entry_survives_the_question(terms):
    a, af, _b, bf = _two(terms)
    a.line(f"Node.spawn('{bf}', lambda: (Process.sleep(1.5), print('got', input('later? '))))")
    a.expect(f"pydist({af})2>")
    a.type("x = 'half")
    a.expect("later?")
    a.line("Ann")
    a.expect("got Ann")
    a.expect("x = 'half")  # the entry is back, as it was
    a.line(" done'")
    a.expect(f"pydist({af})3>")
    a.line("x")
    a.expect("'half done'")


def test_input_at_a_remote_shell_is_asked_at_home(terms):
    b = terms("--sname", unique("far"))
    bf = b.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    a = terms("--sname", unique("home"), "--remsh", bf)
    a.expect(f"pydist({bf})1>")
    a.line("name = input('who? ')")
    a.expect("\nwho?")  # the question, on a line of its own after the entry
    a.line("Zed")
    a.expect(f"pydist({bf})2>")
    a.line("name, node()")
    a.expect(f"('Zed', '{bf}')")
    b.line("'free'")
    b.expect("'free'")


def test_piped_input_answers_remote_and_local_reads(nodes):
    far = nodes.start("far")
    script = (
        "me = self()\n"
        # far asks only once this entry runs (else the question could take this very line)
        f"Node.spawn({far.full!r}, lambda: (send(me, self()), receive(), print('got', input('q? '))))\n"
        "send(receive(timeout=60), 'go'); Process.sleep(0.5)\n"  # the question arrives meanwhile
        "Bob\n"  # the next line read answers it
        "x = input('local? ')\n"
        "Ann\n"  # a local input() reads the next line, and the rest stays for the prompt
        "print('x is', x)\n"
        "Process.sleep(1.0)\n"
    )
    r = subprocess.run(
        pydist_cmd("--sname", unique("home")),
        input=script,
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=TIMEOUT * 2,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "q? " in r.stdout and "got Bob" in r.stdout and "x is Ann" in r.stdout, r.stdout
    assert "NameError" not in r.stdout + r.stderr
