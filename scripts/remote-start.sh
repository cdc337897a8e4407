#!/usr/bin/env bash
# Start one pydist node per host over ssh, each in a detached tmux session there,
# and open a local tmux session with one window attached to each.
set -euo pipefail
# shellcheck source=_common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/_common.sh"

show_help() {
  cat <<'HELP'
usage: scripts/remote-start.sh [options] [HOST...] [-- PYDIST_ARGS...]

On each [USER@]HOST, starts  pydist --name NAME@HOST -S APP  in REMOTE_DIR,
inside a detached tmux session called NAME (the node outlives the ssh
connection and your terminal), waits until it is registered with that host's
name server, then opens a local tmux session NAME-cluster with one window per
host, each attached to that host's session (ssh -t HOST tmux attach -t NAME).

  -f HOSTFILE    hosts, one per line ('#' comments); added to the HOST arguments
  -n NAME        the node name before the @ (default: kv)
  -a APP         the application to start with -S (default: kv_store; '' for none)
  -d REMOTE_DIR  where the app was pushed (default: pydist/APP, relative to the
                 remote home; scripts/push.sh's default)
  -p PORTS       the nodes' listening port or range, e.g. 9100-9105 (pydist --port)
  -e VAR=VALUE   set VAR in every node's environment (repeatable), e.g. -e KV_STORE_POLL=2
  -D             do not attach to the local session (just print how to)
  -k             stop instead: end the NAME session on every host (the node leaves)
  -- ARGS        more pydist arguments for every node, e.g. -- --ticktime 10

Each node gets KV_STORE_HOSTS (and PYDIST_NODES) = the comma-separated names
of all the nodes started (kv@HOST1,kv@HOST2,...), so the app's Epmd topology
can list them; PYDIST_EPMD_PORT is passed on when set here. The remote command
is $PYDIST (default: pydist), e.g. PYDIST="python3 -m pydist" or a full path.
Hosts need tmux and pydist; this machine needs tmux to attach.
HELP
}

name=kv app=kv_store remote_dir="" ports="" attach=1 stop=0
extra=() node_env=""
while getopts "f:n:a:d:p:e:Dkh" opt; do
  case "$opt" in
    f) add_hosts_from_file "$OPTARG" ;;
    n) name="$OPTARG" ;;
    a) app="$OPTARG" ;;
    d) remote_dir="$OPTARG" ;;
    p) ports="$OPTARG" ;;
    e) case "$OPTARG" in
         [A-Za-z_]*=*) var="${OPTARG%%=*}"
           case "$var" in *[!A-Za-z0-9_]*) usage_error "-e $OPTARG: not VAR=VALUE" ;; esac
           node_env="$node_env $var=$(q "${OPTARG#*=}")" ;;
         *) usage_error "-e $OPTARG: not VAR=VALUE" ;;
       esac ;;
    D) attach=0 ;;
    k) stop=1 ;;
    h) show_help; exit 0 ;;
    *) usage_error "unknown option" ;;
  esac
done
shift $((OPTIND - 1))
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  HOSTS+=("$1"); shift
done
[ "${#HOSTS[@]}" -gt 0 ] || usage_error "give hosts as arguments or with -f HOSTFILE"
case "$name" in ''|*[!A-Za-z0-9_.-]*) usage_error "-n $name: use letters, digits, _ . -" ;; esac
remote_dir="${remote_dir:-pydist/${app:-.}}"
valid_dir "$remote_dir"
pydist_cmd="${PYDIST:-pydist}"
session="$name"
epmd_env=""
[ -n "${PYDIST_EPMD_PORT:-}" ] && epmd_env="PYDIST_EPMD_PORT=$(q "$PYDIST_EPMD_PORT")"

if [ "$stop" = 1 ]; then
  for host in "${HOSTS[@]}"; do
    if rsh "$host" "tmux kill-session -t $(q "$session") 2>/dev/null"; then
      echo "$host: stopped $name@$(host_of "$host")"
    else
      echo "$host: no $session session"
    fi
  done
  tmux kill-session -t "$name-cluster" 2>/dev/null || true
  exit 0
fi

nodes=()
for host in "${HOSTS[@]}"; do
  check_long_host "$host"
  nodes+=("$name@$(host_of "$host")")
done
node_list="$(IFS=,; echo "${nodes[*]}")"

# -- start: one detached tmux session per host ---------------------------------
for host in "${HOSTS[@]}"; do
  node="$name@$(host_of "$host")"
  args=(--name "$node")
  [ -n "$app" ] && args+=(-S "$app")
  [ -n "$ports" ] && args+=(--port "$ports")
  args+=("${extra[@]+"${extra[@]}"}")
  quoted=""
  for a in "${args[@]}"; do quoted="$quoted $(q "$a")"; done
  # What runs in the remote pane; when pydist exits the pane stays, showing why.
  pane="cd $(remote_path_expr "$remote_dir") && env $epmd_env KV_STORE_HOSTS=$(q "$node_list") \
PYDIST_NODES=$(q "$node_list")$node_env $pydist_cmd$quoted; s=\$?; echo; \
echo \"[pydist exited with status \$s; press Enter to close]\"; read x"
  out="$(rsh "$host" "command -v tmux >/dev/null 2>&1 || { echo 'tmux is not installed there'; exit 3; }
if tmux has-session -t $(q "$session") 2>/dev/null; then echo 'already running (stop it with -k)';
else tmux new-session -d -s $(q "$session") -x 160 -y 48 $(q "$pane") && echo started; fi" 2>&1)" \
    || { echo "$host: could not start $node: $out" >&2; exit 1; }
  echo "$host: $node $out"
done

# -- wait until every node is registered with its host's name server -----------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
i=0
for host in "${HOSTS[@]}"; do
  i=$((i + 1))
  (
    check="i=0; while [ \$i -lt 60 ]; do
  if env $epmd_env $pydist_cmd epmd --names 2>/dev/null | grep -q '^name $name at port'; then exit 0; fi
  if tmux capture-pane -p -t $(q "$session") 2>/dev/null | grep -q 'pydist exited with status'; then break; fi
  sleep 0.5; i=\$((i + 1)); done
tmux capture-pane -p -t $(q "$session") 2>/dev/null | sed '/^\$/d' | tail -n 12; exit 1"
    rsh "$host" "$check" >"$tmp/$i.out" 2>&1
  ) && echo ok >"$tmp/$i.rc" || echo failed >"$tmp/$i.rc" &
done
wait
failed=0 i=0
for host in "${HOSTS[@]}"; do
  i=$((i + 1))
  if [ "$(cat "$tmp/$i.rc")" = ok ]; then
    echo "$name@$(host_of "$host") is up"
  else
    failed=1
    echo "$name@$(host_of "$host") did not come up; its terminal says:" >&2
    sed 's/^/    /' "$tmp/$i.out" >&2
  fi
done

# -- the local session: one window per host, attached over ssh -----------------
local_session="$name-cluster"
if command -v tmux >/dev/null 2>&1; then
  tmux kill-session -t "$local_session" 2>/dev/null || true
  first=1
  for host in "${HOSTS[@]}"; do
    win="ssh ${SSH_USER_OPTS[*]+"${SSH_USER_OPTS[*]}"} -t $(q "$host") tmux attach -t $(q "$session"); echo '[ssh to $host ended; Enter closes this window]'; read x"
    if [ "$first" = 1 ]; then
      tmux new-session -d -s "$local_session" -n "$(host_of "$host")" -x 160 -y 48 "$win"
      first=0
    else
      tmux new-window -t "$local_session:" -n "$(host_of "$host")" "$win"
    fi
  done
  if [ "$attach" = 1 ] && [ -t 0 ] && [ -t 1 ]; then
    if [ -n "${TMUX:-}" ]; then tmux switch-client -t "$local_session"; else tmux attach -t "$local_session"; fi
  else
    echo "attach with: tmux attach -t $local_session   (one window per host; C-b n: next; C-b d: detach, the nodes keep running)"
  fi
else
  echo "no tmux here: reach a node with  ssh -t HOST tmux attach -t $session"
fi
exit "$failed"
