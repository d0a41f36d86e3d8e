# Making this checkout and the Python install reachable by the test user and by the unit, in the
# namespace only, wherever they lie. Sourced by manager-init.sh (PID 1 of the namespace) and by
# test_paths.py. Needs a fresh /run and a private mount namespace.

# expose FOLDER: make FOLDER readable by any user. A 0700 ancestor (such as /root, or a
# `mktemp -d` folder) is covered by a 0755 tmpfs that holds only binds of the wanted folders; the
# original stays reachable under /run/msh/hidden* for later folders under the same ancestor.
expose() {
    local want=$1 top=/ rest=${1#/} part keep
    while [ -n "$rest" ]; do
        part=${rest%%/*}
        top=${top%/}/$part
        [ "$rest" = "$part" ] && rest= || rest=${rest#*/}
        keep=/run/msh/hidden$(printf %s "$top" | od -An -tx1 | tr -d ' \n')   # one name per folder
        if [ ! -d "$keep" ] && [ -d "$top" ] && [ "$(( $(stat -c %#a "$top") & 1 ))" = 0 ]; then
            mkdir -p "$keep"
            mount --bind "$top" "$keep"
            mount -t tmpfs -o mode=755 msh-expose "$top"
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
# 0700 ancestors, and the checkout often shares one with the virtual environment. Folders under
# /tmp or /var/tmp, which the unit's PrivateTmp= replaces, are bound back into the unit by a
# drop-in from a second bind under /srv (a source under /tmp would be gone by then).
reach() {
    local code=$1 n=0 path dropin=/run/systemd/user/modelshelf.service.d
    shift
    mount -t tmpfs -o mode=755 msh-srv /srv
    mkdir -p /srv/modelshelf/daemon "$dropin"
    mount --bind -o ro "$code" /srv/modelshelf/daemon
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
