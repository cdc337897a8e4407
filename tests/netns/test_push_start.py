"""scripts/push.sh and scripts/remote-start.sh, run as a user runs them:
against real sshd servers (one per host), with ssh keys, rsync and tmux.
"""

import stat
import subprocess
import time

import pytest
from conftest import ROOT, TIMEOUT, wait_for
from labfixtures import lab_nodes_fixture, make_lab_fixture, needs_netns, ssh_lab_fixture  # noqa: F401 (pytest finds the fixtures here)

pytestmark = [*needs_netns, pytest.mark.timeout(180)]

PUSH = str(ROOT / "scripts" / "push.sh")
START = str(ROOT / "scripts" / "remote-start.sh")
APP = ROOT / "examples" / "kv_store"


def run(argv, env, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def pane(env, target):
    return run(["tmux", "capture-pane", "-p", "-t", target], env).stdout


def test_push_and_remote_start(make_lab, ssh_lab, lab_nodes, tmp_path):
    lab = make_lab(3)
    sl = ssh_lab(lab)
    env = sl.env()
    cookie = sl.local_home / ".pydist.cookie"  # none yet: push.sh makes one, like pydist
    h1, h2, h3 = lab.hosts
    hosts_file = tmp_path / "hosts"
    # Names or addresses: ssh and the node names use them alike (kv@h2.netlab.test).
    hosts_file.write_text(f"# the cluster\n{h2.fqdn}\n{h3.fqdn}  # the last one\n")
    order = [h2, h3, h1]  # the hosts file first, then the arguments
    kv = [f"kv@{h.fqdn}" for h in order[:2]] + [f"kv@{h1.ip}"]

    r = run([PUSH, "-f", str(hosts_file), str(APP), h1.ip], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pushed to 3 host(s)" in r.stdout and "created the cookie file" in r.stdout
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o400
    secret = cookie.read_text()
    for host in lab.hosts:
        home = sl.homes[host.index]
        assert (home / "pydist" / "kv_store" / "kv_store" / "map_server.py").exists()
        assert not list((home / "pydist" / "kv_store").rglob("__pycache__"))
        pushed = home / ".pydist.cookie"
        assert pushed.read_text() == secret
        assert stat.S_IMODE(pushed.stat().st_mode) == 0o400
    # Pushing again replaces the 0400 cookie (a rename, not a write).
    assert run([PUSH, str(APP), *(h.ip for h in lab.hosts)], env).returncode == 0

    r = run([START, "-f", str(hosts_file), "-e", "KV_STORE_POLL=0.5", h1.ip], env)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in kv:
        assert f"{name} is up" in r.stdout
    assert "attach with: tmux attach -t kv-cluster" in r.stdout

    # One local window per host, each attached over ssh to that host's session.
    windows = run(["tmux", "list-windows", "-t", "kv-cluster", "-F", "#{window_name}"], env)
    assert windows.stdout.split() == [h2.fqdn, h3.fqdn, h1.ip]
    for i, name in enumerate(kv):
        wait_for(
            lambda name=name, i=i: f"pydist({name})1>" in pane(env, f"kv-cluster:{i}"),
            what=f"the prompt of {name} in local window {i}",
        )

    # Type at the prompts, as the user would, in two windows (two hosts).
    # (Before any other node joins: kv_store.put writes to every connected node.)
    retype_until(
        env,
        "kv-cluster:0",
        "sorted(Node.list())",
        lambda text: all(n in text for n in kv[1:]),
        what="the mesh at the first prompt",
    )
    type_line(env, "kv-cluster:0", "kv_store.put('city', 'Lyon')")
    wait_for(lambda: "'ok'" in pane(env, "kv-cluster:0"), what="put to answer 'ok'")
    type_line(env, "kv-cluster:2", "kv_store.get('city')")
    wait_for(lambda: "'Lyon'" in pane(env, "kv-cluster:2"), what="the value on another host")

    # The nodes run inside their hosts, with the pushed cookie and the host list.
    probe = lab_nodes(lab).start(h1, f"probe@{h1.ip}", env={"PYDIST_COOKIE": secret})
    for name in kv:
        assert probe.value(f"rpc.call({name!r}, lambda: __import__('kv_store').get('city'))") == "'Lyon'"
    assert probe.value(f"rpc.call({kv[1]!r}, lambda: __import__('os').environ['KV_STORE_HOSTS'])") == repr(",".join(kv))

    # Starting again leaves the running nodes alone; -k stops them all.
    r = run([START, "-D", h1.ip], env)
    assert "already running" in r.stdout, r.stdout + r.stderr
    r = run([START, "-k", *(h.ip for h in lab.hosts)], env)
    assert r.returncode == 0 and r.stdout.count("stopped kv@") == 3, r.stdout + r.stderr
    wait_for(
        lambda: all(probe.value(f"Node.ping({n!r})") == "'pang'" for n in kv), timeout=TIMEOUT, what="the nodes to stop"
    )


def retype_until(env, target, line, ok, what, timeout=TIMEOUT):
    """Type ``line`` again every second until the pane satisfies ``ok``."""
    deadline = time.monotonic() + timeout
    while True:
        type_line(env, target, line)
        try:
            return wait_for(lambda: ok(pane(env, target)), timeout=1.0, what=what)
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{pane(env, target)}") from None


def type_line(env, target, line):
    """Keys typed in a local window travel over ssh to the remote prompt."""
    run(["tmux", "send-keys", "-t", target, "-l", line], env)
    run(["tmux", "send-keys", "-t", target, "Enter"], env)
