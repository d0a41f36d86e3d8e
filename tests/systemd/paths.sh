# Making this checkout and the Python install reachable by the test user and by the unit, in the
# namespace only, wherever they lie. Sourced by manager-init.sh (PID 1 of the namespace) and by
# test_paths.py. Needs a fresh /run and a private mount namespace.

# kept FOLDER: where a covered FOLDER stays reachable (one name per folder).
kept() {
    printf '/run/msh/hidden%s' "$(printf %s "$1" | od -An -tx1 | tr -d ' \n')"
}

# cover FOLDER MODE: an empty tmpfs over FOLDER, in this namespace only; the original stays
# reachable at $(kept FOLDER) for expose to bind wanted folders from.
cover() {
    local keep
    keep=$(kept "$1")
    mkdir -p "$keep"
    mount --bind "$1" "$keep"
    mount -t tmpfs -o "mode=$2" msh-cover "$1"
}

# expose FOLDER: make FOLDER readable by any user. A 0700 ancestor (such as /root, or a
# `mktemp -d` folder) is covered by a 0755 tmpfs that holds only binds of the wanted folders.
expose() {
    local want=$1 top=/ rest=${1#/} part keep
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        top=${top%/}/$part
        [ "$rest" = "$part" ] && rest= || rest=${rest#*/}
        keep=$(kept "$top")
        if [ ! -d "$keep" ] && [ -d "$top" ] && [ "$(( $(stat -c %#a "$top") & 1 ))" = 0 ]; then
            cover "$top" 755
        fi
        if [ -d "$keep" ]; then                # under a covered ancestor: bind just this folder
            [ -d "$want" ] && [ -n "$(ls -A "$want")" ] && return   # already there (a parent was bound)
            mkdir -p "$want"
            mount --bind "$keep${want#"$top"}" "$want"
            return
        fi
    done
}

# reach CODE READABLE...: CODE (this checkout's daemon/) read-only at /srv/modelshelf/daemon, and
# each READABLE folder readable at its own path. CODE is bound first: exposing a folder covers its
# 0700 ancestors, and the checkout often shares one with the virtual environment. /tmp and
# /var/tmp are covered too: what the manager and the unit's PrivateTmp= leave there
# (systemd-private-*) goes with the namespace. Folders under them, which PrivateTmp= replaces in
# the unit, are bound back into it by a drop-in from a second bind under /srv.
reach() {
    local code=$1 n=0 path dropin=/run/systemd/user/modelshelf.service.d
    shift
    mount -t tmpfs -o mode=755 msh-srv /srv
    mkdir -p /srv/modelshelf/daemon "$dropin"
    mount --bind -o ro "$code" /srv/modelshelf/daemon
    for path in /tmp /var/tmp; do [ -d "$path" ] && cover "$path" 1777; done
    for path in "$@"; do expose "$path"; done
    printf '[Service]\n' >"$dropin/msh-paths.conf"
    for path in "$@"; do
        case $path in /tmp/* | /var/tmp/*) ;; *) continue ;; esac
        n=$((n + 1))
        mkdir -p "/srv/modelshelf/reach/$n"
        mount --bind -o ro "$path" "/srv/modelshelf/reach/$n"
        # Quoted (spaces), with systemd's specifier and escape characters doubled.
        printf 'BindReadOnlyPaths=/srv/modelshelf/reach/%s:"%s"\n' "$n" \
            "$(printf %s "$path" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/%/%%/g')" >>"$dropin/msh-paths.conf"
    done
}
