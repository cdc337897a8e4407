"""scripts/push.sh and scripts/remote-start.sh, run as a user runs them:
against real sshd servers (one per host), with ssh keys, rsync and tmux.
"""

import shutil
import stat
import subprocess

import pytest

from conftest import ROOT, TIMEOUT, wait_for
from labfixtures import lab_nodes, make_lab, needs_netns, ssh_lab  # noqa: F401 (fixtures)

pytestmark = [*needs_netns, pytest.mark.timeout(180)]

PUSH = str(ROOT / "scripts" / "push.sh")
START = str(ROOT / "scripts" / "remote-start.sh")
COOKIE = "PUSHEDCOOKIEXYZ"


def run(argv, env, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def test_push_and_remote_start(make_lab, ssh_lab, lab_nodes, tmp_path):
    lab = make_lab(3)
    sl = ssh_lab(lab)
    env = sl.env()
    cookie = sl.local_home / ".pydist.cookie"
    cookie.write_text(COOKIE)
    cookie.chmod(0o400)
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "tests" / "agent.py", app / "agent.py")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "junk.pyc").write_text("x")
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("# the cluster\n" + "\n".join(h.ip for h in lab.hosts[1:]) + "\n")
    h1 = lab.hosts[0]

    r = run([PUSH, "-f", str(hosts_file), str(app), h1.ip], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pushed to 3 host(s)" in r.stdout
    for host in lab.hosts:
        home = sl.homes[host.index]
        assert (home / "pydist" / "app" / "agent.py").exists()
        assert not (home / "pydist" / "app" / "__pycache__").exists()
        pushed = home / ".pydist.cookie"
        assert pushed.read_text() == COOKIE
        assert stat.S_IMODE(pushed.stat().st_mode) == 0o400
    # Pushing again replaces the 0400 cookie (rename, not write).
    assert run([PUSH, str(app), *(h.ip for h in lab.hosts)], env).returncode == 0

    r = run([START, "-a", "", "-d", "pydist/app", "-f", str(hosts_file), h1.ip,
             "--", "--ticktime", "3", "agent.py"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    for host in lab.hosts:
        assert f"kv@{host.ip} is up" in r.stdout
    assert "attach with: tmux attach -t kv-cluster" in r.stdout

    # One local window per host, each attached over ssh to that host's session.
    windows = run(["tmux", "list-windows", "-t", "kv-cluster", "-F", "#{window_name}"], env)
    assert windows.stdout.split() == [h.ip for h in lab.hosts[1:]] + [h1.ip]  # file, then args
    for host in lab.hosts:
        wait_for(lambda: "1 attached" in sl.ssh(host, "tmux list-sessions").stdout or
                 "(attached)" in sl.ssh(host, "tmux list-sessions").stdout,
                 what=f"the local window attached to {host}")

    # The nodes run inside their hosts with the pushed cookie, and form a mesh.
    probe = lab_nodes(lab).start(h1, f"probe@{h1.ip}", env={"PYDIST_COOKIE": COOKIE})
    kv = [f"kv@{h.ip}" for h in lab.hosts[1:] + lab.hosts[:1]]   # the hosts file, then args
    for name in kv:
        assert probe.value(f"Node.ping({name!r})") == "'pong'"
    assert probe.value(f"rpc.call({kv[2]!r}, lambda: (node(), __import__('os').environ['KV_STORE_HOSTS']))") \
        == repr((kv[2], ",".join(kv)))

    # Starting again leaves the running nodes alone; -k stops them all.
    r = run([START, "-a", "", "-d", "pydist/app", h1.ip, "--", "agent.py"], env)
    assert "already running" in r.stdout, r.stdout + r.stderr
    r = run([START, "-k", *(h.ip for h in lab.hosts)], env)
    assert r.returncode == 0 and r.stdout.count("stopped kv@") == 3, r.stdout + r.stderr
    wait_for(lambda: all(probe.value(f"Node.ping({n!r})") == "'pang'" for n in kv),
             timeout=TIMEOUT, what="the nodes to stop")
