#!/usr/bin/env bash
# Copy an application folder and the cluster's cookie file to a list of hosts over ssh.
set -euo pipefail
# shellcheck source=_common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/_common.sh"

show_help() {
  cat <<'HELP'
usage: scripts/push.sh [-f HOSTFILE] [-d REMOTE_DIR] [-c COOKIE_FILE] APP_DIR [HOST...]

Copies APP_DIR (e.g. examples/kv_store) to REMOTE_DIR on each [USER@]HOST with
rsync over ssh (tar over ssh where rsync is missing), and the cookie file to
~/.pydist.cookie there with mode 0400, so every node started there shares
this cluster's cookie.

  -f HOSTFILE     hosts, one per line ('#' comments); added to the HOST arguments
  -d REMOTE_DIR   where the app goes on each host (default: pydist/<APP_DIR's name>,
                  relative to the remote home)
  -c COOKIE_FILE  the cookie to copy (default: ~/.pydist.cookie, created here first
                  if missing: 20 random letters, mode 0400)

ssh must log in without a password prompt (keys or an agent: BatchMode=yes);
set hosts, users and keys up in ~/.ssh/config as for any ssh use. pydist itself
must be installed on each host (pip install pydist, or from a checkout).
Then start the nodes with scripts/remote-start.sh.
HELP
}

remote_dir="" cookie="${HOME}/.pydist.cookie"
while getopts "f:d:c:h" opt; do
  case "$opt" in
    f) add_hosts_from_file "$OPTARG" ;;
    d) remote_dir="$OPTARG" ;;
    c) cookie="$OPTARG" ;;
    h) show_help; exit 0 ;;
    *) usage_error "unknown option" ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage_error "give the application folder to push, e.g. examples/kv_store"
app="${1%/}"; shift
HOSTS+=("$@")
[ -d "$app" ] || usage_error "no such folder: $app"
[ "${#HOSTS[@]}" -gt 0 ] || usage_error "give hosts as arguments or with -f HOSTFILE"
remote_dir="${remote_dir:-pydist/$(basename "$(cd "$app" && pwd)")}"
valid_dir "$remote_dir"

if [ ! -e "$cookie" ]; then
  value="$(LC_ALL=C tr -dc '[:upper:]' </dev/urandom | head -c 20 || true)"   # tr ends on SIGPIPE
  [ "${#value}" = 20 ] || die "could not make a random cookie"
  (umask 277 && printf '%s' "$value" >"$cookie")
  echo "created the cookie file $cookie (mode 0400)"
fi
if [ ! -r "$cookie" ] || [ ! -s "$cookie" ]; then
  die "the cookie file $cookie is empty or unreadable"
fi

have_rsync=0
command -v rsync >/dev/null 2>&1 && have_rsync=1
dest_expr="$(remote_path_expr "$remote_dir")"
failed=()

for host in "${HOSTS[@]}"; do
  # One round trip makes the folder and says where it is: rsync then gets an
  # absolute path, whatever the remote shell's idea of the current directory.
  if ! dest="$(rsh "$host" "mkdir -p $dest_expr && cd $dest_expr && pwd && \
(command -v rsync >/dev/null 2>&1 && echo rsync || echo no-rsync) && cd && pwd")"; then
    echo "$host: ssh failed (can you run: ssh $host true ?)" >&2
    failed+=("$host"); continue
  fi
  path="$(printf '%s\n' "$dest" | sed -n 1p)"
  tool="$(printf '%s\n' "$dest" | sed -n 2p)"
  if [ "$path" = / ] || [ "$path" = "$(printf '%s\n' "$dest" | sed -n 3p)" ]; then
    echo "$host: $remote_dir is $path there: push to a folder of its own (-d)" >&2
    failed+=("$host"); continue
  fi
  if [ "$have_rsync" = 1 ] && [ "$tool" = rsync ]; then
    ok=1
    rsync -az --delete --exclude '__pycache__/' --exclude '*.pyc' --exclude '.pytest_cache/' \
      -e "ssh ${SSH_OPTS[*]}" "$app/" "$host:$path/" || ok=0
  else
    ok=1
    tar -C "$app" --exclude='__pycache__' --exclude='*.pyc' --exclude='.pytest_cache' -cf - . \
      | rsh "$host" "cd $(q "$path") && find . -mindepth 1 -delete && tar -xf -" || ok=0
  fi
  # The cookie: written to a temporary file and renamed, so a 0400 cookie
  # already there is replaced rather than refused.
  # shellcheck disable=SC2016  # $HOME, $f and $t are the remote shell's
  if [ "$ok" = 1 ] && rsh "$host" 'umask 077; f="$HOME/.pydist.cookie"; t="$(mktemp "$f.XXXXXX")" &&
      cat >"$t" && chmod 400 "$t" && mv -f "$t" "$f"' <"$cookie"; then
    echo "$host: $app -> $path, cookie -> ~/.pydist.cookie (0400)"
  else
    echo "$host: copying failed" >&2
    failed+=("$host")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  die "push failed on ${failed[*]}"
fi
echo "pushed to ${#HOSTS[@]} host(s); next: scripts/remote-start.sh ${HOSTS[*]}"
