"""The prompt's keys, as in IPython: indenting, Enter, pasting.

- **Auto-indent.** Enter after a line ending in ``:`` indents the next line
  four spaces deeper; after ``return``, ``pass``, ``break``, ``continue`` or
  ``raise`` one level shallower; otherwise as deep as the line above.
  Backspace in the indentation goes back to the previous multiple of four.
- **Enter.** On the last line of the entry it runs the entry when it is
  complete (``evaluate.is_complete``: a block ends with a blank line), else
  opens the next line. Anywhere above the last line it inserts a line, so a
  block recalled from history can be edited without running it halfway.
  Meta-Enter (Esc then Enter, or Alt-Enter) runs the entry as it is.
- **Pasting.** A bracketed paste arrives whole (no auto-indent, blank lines
  kept). For a terminal without bracketed paste, F6 toggles *paste mode*
  (said on the right of the prompt): Enter only inserts a line and nothing
  is indented, Meta-Enter runs the entry (and ends paste mode). Either way an entry whose first line starts
  with a prompt — ``>>>``/``...``, ``pydist(…)N>``/``...(…)N>``, IPython's
  ``In [N]:``/``...:`` — is a pasted transcript: the prompts are stripped
  and the lines without one (the output shown in it) are dropped.

The bindings run in prompt_toolkit's event loop, on the prompt's thread.
"""

from __future__ import annotations

import re

from .evaluate import is_complete

__all__ = ["EditState", "add_bindings", "next_indent", "strip_prompts"]

INDENT = "    "
_DEDENT_AFTER = re.compile(r"^\s*(return|pass|break|continue|raise)\b")
_PROMPT = re.compile(
    r"^(?:>>>|\.\.\.|(?:pydist|\.\.\.)\([^)\n]*\)\d*>|In \[\d+\]:|\s+\.\.\.:)(?: |$)",
)
PASTE_HINT = "[paste mode: Meta-Enter runs it, F6 ends]"  # on the right of the prompt's first line


def strip_prompts(text: str) -> str:
    """``text`` without the prompts of a pasted transcript (unchanged if its
    first line has none); lines without a prompt were output: dropped."""
    lines = text.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if not _PROMPT.match(first):
        return text
    kept = []
    for line in lines:
        m = _PROMPT.match(line)
        if m:
            kept.append(line[m.end() :])
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def _code_part(line: str) -> str:
    """``line`` without a trailing comment (a cheap cut: ``#`` outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def next_indent(line: str) -> str:
    """The indentation of the line that follows ``line`` (what is left of it
    before the cursor)."""
    current = line[: len(line) - len(line.lstrip(" \t"))].replace("\t", INDENT)
    code = _code_part(line).rstrip()
    if code.endswith(":"):
        return current + INDENT
    if _DEDENT_AFTER.match(code):
        return current[: max(0, len(current) - len(INDENT))]
    return current


class EditState:
    """What the keys need to know between two key presses (paste mode)."""

    def __init__(self):
        self.paste_mode = False
        self.session = None  # the PromptSession, to show that paste mode is on

    def set_paste_mode(self, on: bool) -> None:
        self.paste_mode = on
        if self.session is not None:
            self.session.rprompt = PASTE_HINT if on else None


def _strip_buffer(buf) -> None:
    text = buf.text
    stripped = strip_prompts(text)
    if stripped != text:
        buf.text = stripped
        buf.cursor_position = len(stripped)


def _newline(buf) -> None:
    before = buf.document.current_line_before_cursor
    buf.insert_text("\n" + next_indent(before))


def _on_last_line(doc) -> bool:
    """Whether the cursor is on the entry's last line (blank lines after it do not count)."""
    last = doc.line_count - 1
    while last > 0 and not doc.lines[last].strip():
        last -= 1
    return doc.cursor_position_row >= last


def add_bindings(kb, state: EditState) -> None:
    """Enter, Meta-Enter, Backspace, F6 and bracketed paste on ``kb``."""
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.keys import Keys

    def accept(buf) -> None:
        _strip_buffer(buf)
        if state.paste_mode:
            state.set_paste_mode(False)
        buf.validate_and_handle()

    @kb.add("enter")
    def _enter(event):
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion:
            buf.apply_completion(buf.complete_state.current_completion)
            return
        if state.paste_mode:
            buf.insert_text("\n")
            return
        if not _on_last_line(buf.document):
            _newline(buf)  # inside a block: a new line, never a half-run block
            return
        _strip_buffer(buf)
        if is_complete(buf.text):
            accept(buf)
        else:
            _newline(buf)

    @kb.add("escape", "enter")
    def _run_now(event):
        """Meta-Enter: run the entry as it stands (an unfinished one shows its error)."""
        accept(event.current_buffer)

    @kb.add("f6")
    def _paste_mode(event):
        state.set_paste_mode(not state.paste_mode)

    @Condition
    def _in_indentation():
        from prompt_toolkit.application import get_app

        doc = get_app().current_buffer.document
        before = doc.current_line_before_cursor
        return bool(before) and not before.strip(" ") and not state.paste_mode

    @kb.add("backspace", filter=_in_indentation)
    def _dedent(event):
        buf = event.current_buffer
        width = len(buf.document.current_line_before_cursor)
        buf.delete_before_cursor((width - 1) % len(INDENT) + 1)

    @kb.add(Keys.BracketedPaste)
    def _paste(event):
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        buf = event.current_buffer
        if not buf.text.strip():
            data = strip_prompts(data)
        buf.insert_text(data)
