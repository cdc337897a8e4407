#!/usr/bin/env bash
# Start the lecture's kv_store cluster on this machine: node0..node2@localhost
# (or N nodes: ./local-start.sh N), each `pydist --sname nodeI@localhost -S kv_store`
# run from examples/kv_store, in one tmux session with one window per node.
#
#   ./local-start.sh [-L SOCKET] [N]     then: tmux [-L SOCKET] attach -t kv_store
#   ./local-stop.sh  [-L SOCKET]         ends them
#
# -L SOCKET (or $TMUX_SOCKET) uses a private tmux server; $KV_SESSION names the
# session (default kv_store). The nodes find each other by themselves (the app's
# Epmd strategy); for N other than 3, KV_STORE_HOSTS is set to node0..node(N-1).
set -eu

# --help: the comment block above (up to the first line that is not a comment),
# with the socket and session filled in when given (-L before --help, $TMUX_SOCKET, $KV_SESSION).
help() {
    local sock="[-L SOCKET]"
    [ -n "$SOCKET" ] && sock="-L $SOCKET"
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" |
        sed -e "s|tmux \[-L SOCKET\] attach -t kv_store|tmux $sock attach -t ${KV_SESSION:-kv_store}|"
}
usage() { echo "usage: ${0##*/} [-L SOCKET] [N]   (N nodes, default 3)" >&2; exit 2; }

SOCKET="${TMUX_SOCKET:-}"
N=3
while [ $# -gt 0 ]; do
    case "$1" in
        -L) [ $# -ge 2 ] || usage; SOCKET="$2"; shift 2 ;;
        -h|--help) help; exit 0 ;;
        *[!0-9]*|'') usage ;;
        *) N="$1"; shift ;;
    esac
done
[ "$N" -ge 1 ] || usage

if ! command -v tmux >/dev/null 2>&1; then
    echo "${0##*/}: tmux is not installed; install it (sudo apt install tmux, or brew install tmux) and run me again" >&2
    exit 1
fi

case "${BASH_SOURCE[0]}" in */*) ROOT="$(cd "${BASH_SOURCE[0]%/*}" && pwd)" ;; *) ROOT="$(pwd)" ;; esac
APP_DIR="$ROOT/examples/kv_store"
SESSION="${KV_SESSION:-kv_store}"
TMUX_ARGS=()
[ -n "$SOCKET" ] && TMUX_ARGS=(-L "$SOCKET")
tm() { tmux ${TMUX_ARGS[@]+"${TMUX_ARGS[@]}"} "$@"; }

if tm has-session -t "=$SESSION" 2>/dev/null; then
    echo "${0##*/}: a tmux session '$SESSION' is running already; end it with ./local-stop.sh${SOCKET:+ -L $SOCKET}" >&2
    exit 1
fi

if command -v pydist >/dev/null 2>&1; then
    PYDIST="pydist"
else   # not installed: run it from this checkout
    PYDIST="${PYTHON:-python3} -m pydist"
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "${KV_STORE_HOSTS:-}" ] && [ -z "${KV_STORE_HOSTS_FILE:-}" ] && [ "$N" -ne 3 ]; then
    KV_STORE_HOSTS="$(for i in $(seq 0 $((N - 1))); do printf 'node%d@localhost,' "$i"; done)"
    export KV_STORE_HOSTS="${KV_STORE_HOSTS%,}"
fi

# A tmux server that is already running does not have this shell's environment:
# hand the variables that matter to each node explicitly.
ENVS=""
for v in HOME PATH PYTHONPATH PYDIST_COOKIE PYDIST_EPMD_PORT KV_STORE_HOSTS KV_STORE_HOSTS_FILE KV_STORE_POLL; do
    if [ -n "${!v+x}" ]; then ENVS="$ENVS $v=$(printf '%q' "${!v}")"; fi
done

for i in $(seq 0 $((N - 1))); do
    # when the node exits, the window keeps a shell, ready to start it again (step 5)
    node_cmd="$PYDIST --sname node$i@localhost -S kv_store"
    cmd="${ENVS:+export$ENVS; }$node_cmd; echo; echo '[node$i exited; start it again with: $node_cmd]'; exec \"\${SHELL:-bash}\""
    if [ "$i" -eq 0 ]; then
        tm new-session -d -s "$SESSION" -n "node$i" -c "$APP_DIR" "$cmd"
    else
        tm new-window -d -t "=$SESSION" -n "node$i" -c "$APP_DIR" "$cmd"
    fi
done

T="tmux${SOCKET:+ -L $SOCKET}"
if [ -n "${TMUX:-}" ] && [ -z "$SOCKET" ]; then
    ATTACH="$T switch-client -t $SESSION   (you are inside tmux already)"
else
    ATTACH="$T attach -t $SESSION"
fi
cat <<MSG
Started $N kv_store nodes (node0..node$((N - 1))@localhost) in tmux session '$SESSION'.
  attach:           $ATTACH
  switch windows:   Ctrl-b n / Ctrl-b p (next / previous), Ctrl-b 0..$((N - 1 > 9 ? 9 : N - 1)) (by number)
  leave them running: Ctrl-b d (detach)
  stop them all:    ./local-stop.sh${SOCKET:+ -L $SOCKET}
MSG
