#!/bin/bash
# PID 1 of a private mount + pid namespace holding a real `systemd --user` manager and journald
# (no PID-1 systemd needed). Run by tests/systemd/manager.py as:
#   unshare --mount --pid --fork --mount-proc --propagation private manager-init.sh UID CGROUP CODE SECONDS READABLE...
# UID: the test user (uid >= 1000, added to bind-mounted copies of /etc/passwd and /etc/group);
# CGROUP: a fresh `<random>.slice` name (journald derives _SYSTEMD_USER_UNIT from the
# `user-UID.slice/user@UID.service` part); CODE: this checkout's daemon/ folder, bound at
# /srv/modelshelf/daemon (the unit has PrivateTmp=yes, so nothing under /tmp is visible to it);
# SECONDS: how long to wait for journald and the manager; READABLE: folders the user and the unit
# must be able to read (the Python install, a virtual environment, the packages), wherever they
# lie: under a 0700 /root, in one 0700 `mktemp -d` with the checkout, under /tmp.
# Prints "manager-ready" once the manager answers, then waits until killed.
set -euo pipefail
uid=$1 cgroup=$2 code=$3 seconds=$4
shift 4
tries=$((seconds * 100))
user=mstest home=/home/mstest

# 1. Fresh /run and /var/log, and what systemd expects in them.
mount -t tmpfs -o mode=755 msh-run /run
mount -t tmpfs -o mode=755 msh-log /var/log
mkdir -p /run/systemd/system /run/systemd/inaccessible /var/log/journal "/run/user/$uid" /run/msh
install -d -m 0700 /run/systemd/unit-root
inacc=/run/systemd/inaccessible
mkdir "$inacc/dir"; touch "$inacc/reg"; mkfifo "$inacc/fifo"; mknod "$inacc/chr" c 0 0; mknod "$inacc/blk" b 0 0
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$inacc/sock"
chmod 000 "$inacc"/*

# 2. The test user, with its home under /home (so ProtectHome= applies to it as to a real user).
cp /etc/passwd /etc/group /run/msh/
echo "$user:x:$uid:$uid:modelshelf test:$home:/bin/bash" >>/run/msh/passwd
echo "$user:x:$uid:" >>/run/msh/group
mount --bind /run/msh/passwd /etc/passwd
mount --bind /run/msh/group /etc/group
mount -t tmpfs -o mode=755,size=2g msh-home /home
install -d -m 0700 -o "$uid" -g "$uid" "$home" "/run/user/$uid"

# 3. This checkout at /srv/modelshelf/daemon, and the Python install readable by the user and
# the unit (paths.sh).
source "$(dirname "${BASH_SOURCE[0]}")/paths.sh"
reach "$code" "$@"

# 4. A delegated cgroup for the manager (in both hierarchies of a hybrid layout).
slice=$cgroup/user-$uid.slice/user@$uid.service
if [ -e /sys/fs/cgroup/cgroup.procs ]; then trees=/sys/fs/cgroup; else trees="/sys/fs/cgroup/unified /sys/fs/cgroup/systemd"; fi
for tree in $trees; do
    mkdir -p "$tree/$slice"
    chown -R "$uid:$uid" "$tree/$slice"
done

# 5. journald with persistent storage (else `journalctl --user` finds no files).
/lib/systemd/systemd-journald &
for _ in $(seq "$tries"); do [ -S /run/systemd/journal/socket ] && break; sleep 0.01; done
journalctl --flush >/dev/null 2>&1 || true

# 6. The user manager, started from inside its cgroup.
(
    for tree in $trees; do echo $BASHPID >"$tree/$slice/cgroup.procs"; done
    exec setpriv --reuid="$uid" --regid="$uid" --init-groups env -i HOME="$home" USER="$user" LOGNAME="$user" \
        PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$uid" \
        /lib/systemd/systemd --user --log-target=journal
) &
manager=$!
for _ in $(seq "$tries"); do [ -S "/run/user/$uid/systemd/private" ] && break; sleep 0.01; done
[ -S "/run/user/$uid/systemd/private" ] || { echo "systemd --user did not start" >&2; exit 1; }
echo manager-ready

# PID 1 of the namespace: reap children until the test kills us (which ends the namespace).
trap 'kill -TERM $manager 2>/dev/null; wait' TERM
wait
