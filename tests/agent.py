"""A node the tests drive through stdin: run as ``pydist --sname X tests/agent.py``.

Each stdin line is ``repr()`` of a piece of Python source. An expression's
value is printed with ``repr``; then ``<<<DONE>>>`` (or the traceback and
``<<<FAILED>>>``) marks the end of that command's output.
"""

import ast
import sys
import traceback

ns = globals()
for line in sys.stdin:
    try:
        src = ast.literal_eval(line)
        try:
            code = compile(src, "<test>", "eval")
        except SyntaxError:
            exec(compile(src, "<test>", "exec"), ns)
            sys.stdout.write("<<<DONE>>>\n")
        else:
            value = eval(code, ns)
            # the value and the end marker in one write: no other process's line
            # (or a log line) can land between them
            sys.stdout.write(repr(value) + "\n<<<DONE>>>\n")
        sys.stdout.flush()
    except BaseException:  # report everything to the test, keep the node up
        traceback.print_exc(file=sys.stdout)
        sys.stdout.write("<<<FAILED>>>\n")
        sys.stdout.flush()
