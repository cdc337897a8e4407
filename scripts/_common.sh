# shellcheck shell=bash
# Shared by push.sh and remote-start.sh (sourced, not run): host lists, ssh, quoting.
#
# Hosts are [USER@]HOST words, from the command line and/or a file (-f FILE:
# one host per line, blank lines and '#' comments ignored). HOST is what the
# node's long name will carry (kv@HOST), so it must be a fully qualified name
# or an IP address that every other host can resolve and reach.

HOSTS=()

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
usage_error() { echo "$(basename "$0"): $*" >&2; echo "(see $(basename "$0") -h)" >&2; exit 2; }

add_hosts_from_file() {
  [ -r "$1" ] || usage_error "cannot read the host file $1"
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%%#*}"
    for word in $line; do HOSTS+=("$word"); done
  done < "$1"
}

# The host part of [USER@]HOST: what goes after the @ in the node name.
host_of() { printf '%s\n' "${1##*@}"; }

check_long_host() {
  local h; h="$(host_of "$1")"
  case "$h" in
    *.*|*:*) ;;
    *) die "$h is a short host name, but nodes across hosts use --name NAME@HOST with a fully \
qualified name or an IP address (like $h.example.com or 10.0.0.5): list the hosts that way" ;;
  esac
}

# Quote one word for a POSIX remote shell.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# ssh for commands (never prompts: a missing key fails at once instead of hanging).
# $PYDIST_SSH_OPTS adds options to every ssh (and rsync's), e.g. "-F ./ssh_config"
# or "-i ~/.ssh/cluster_key -J bastion"; ~/.ssh/config is read as usual.
read -r -a SSH_USER_OPTS <<<"${PYDIST_SSH_OPTS:-}"
SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout="${PYDIST_SSH_TIMEOUT:-10}" "${SSH_USER_OPTS[@]+"${SSH_USER_OPTS[@]}"}")
# shellcheck disable=SC2029  # the command is shell text for the remote side, quoted by the caller (q)
rsh() { local host="$1"; shift; ssh "${SSH_OPTS[@]}" "$host" "$@"; }

# A remote directory: relative means relative to the remote $HOME.
valid_dir() {
  case "$1" in
    ''|*[!A-Za-z0-9_./~-]*) usage_error "remote directory $1: use letters, digits and _ . / ~ - only" ;;
  esac
}
remote_path_expr() {   # shell text that the remote shell expands to the absolute path
  # shellcheck disable=SC2016,SC2088  # a literal "$HOME" and ~: the remote shell expands them
  case "$1" in
    /*) q "$1" ;;
    '~'|'~/'*) printf '"$HOME"%s' "$(q "${1#\~}")" ;;
    *) printf '"$HOME"/%s' "$(q "$1")" ;;
  esac
}
