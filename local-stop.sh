#!/usr/bin/env bash
# End the kv_store nodes that ./local-start.sh started (the whole tmux session).
#   ./local-stop.sh [-L SOCKET]      (-L or $TMUX_SOCKET: the private tmux server used)
set -eu

SOCKET="${TMUX_SOCKET:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        -L) [ $# -ge 2 ] || { echo "usage: ${0##*/} [-L SOCKET]" >&2; exit 2; }; SOCKET="$2"; shift 2 ;;
        -h|--help) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: ${0##*/} [-L SOCKET]" >&2; exit 2 ;;
    esac
done
if ! command -v tmux >/dev/null 2>&1; then
    echo "${0##*/}: tmux is not installed, so there is no session to stop" >&2
    exit 1
fi
SESSION="${KV_SESSION:-kv_store}"
TMUX_ARGS=()
[ -n "$SOCKET" ] && TMUX_ARGS=(-L "$SOCKET")
tm() { tmux ${TMUX_ARGS[@]+"${TMUX_ARGS[@]}"} "$@"; }

if ! tm has-session -t "=$SESSION" 2>/dev/null; then
    echo "${0##*/}: no tmux session '$SESSION' is running${SOCKET:+ on socket $SOCKET}" >&2
    exit 1
fi
tm kill-session -t "=$SESSION"
echo "Stopped the kv_store nodes (tmux session '$SESSION')."
