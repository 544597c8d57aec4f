#!/usr/bin/env bash
# Real-host test bed: Debian bookworm hosts (en1, en2, ...) booted as
# systemd-nspawn containers, each in its own network namespace, joined by a
# bridge on this machine and reachable over ssh as root with a throwaway key.
#
#   testbed.sh image              build (or reuse) the cached base image
#   testbed.sh up [--fresh] [HOST...]
#                                 boot hosts (default: en1 en2), wait for ssh
#   testbed.sh down [HOST...]     stop hosts and remove their network (default: all)
#   testbed.sh status             show what is up
#   testbed.sh ssh HOST [CMD...]  ssh into a host as root
#   testbed.sh env                print shell exports for a test runner (eval them)
#   testbed.sh run [--hosts "en1 en2"] [--] CMD...
#                                 up, run CMD, down those hosts (always);
#                                 exit status of CMD
#   testbed.sh subreaper CMD...   exec CMD as a child subreaper (see become_subreaper)
#
# Host enN (N = 1..9) has address 10.231.0.(10+N)/24; this machine is
# 10.231.0.1 on bridge hdbr0. Only those addresses are ever contacted, plus
# the Debian mirror of this machine's apt sources while building the image.
#
# Exit status 77 means "this machine cannot run the test bed" (not root, no
# namespaces, nspawn unusable, ...): callers should treat it as a skip.
#
# Environment:
#   HADEPLOY_TESTBED_DIR        state dir (default /var/tmp/hadeploy-testbed)
#   HADEPLOY_TESTBED_IMAGE      base image dir (default /var/lib/machines/hadeploy-base-bookworm)
#   HADEPLOY_TESTBED_MIRROR     Debian mirror URL (default: read from apt sources)
#   HADEPLOY_TESTBED_EXTRA_PACKAGES  extra packages for the image (space separated)
#   HADEPLOY_TESTBED_BOOT_TIMEOUT    seconds to wait for a host to boot (default 90)

set -euo pipefail

STATE_DIR=${HADEPLOY_TESTBED_DIR:-/var/tmp/hadeploy-testbed}
IMAGE_DIR=${HADEPLOY_TESTBED_IMAGE:-/var/lib/machines/hadeploy-base-bookworm}
# debootstrap's download cache: makes rebuilding after a package list change cheap.
DEBOOTSTRAP_CACHE=${HADEPLOY_TESTBED_DEBOOTSTRAP_CACHE:-/var/cache/hadeploy-testbed/debootstrap}
SUITE=bookworm
BOOT_TIMEOUT=${HADEPLOY_TESTBED_BOOT_TIMEOUT:-90}
STOP_TIMEOUT=30

BRIDGE=hdbr0
NET_PREFIX=10.231.0
BRIDGE_ADDR=$NET_PREFIX.1
DEFAULT_HOSTS=(en1 en2)
# Every image knows these names, so hosts resolve each other without DNS.
KNOWN_HOSTS=(en1 en2 en3 en4 en5 en6 en7 en8 en9)

# Everything the hosts need must be in the image: they cannot reach any
# package registry. python3-apt lets Ansible's apt/package modules work.
PACKAGES=(systemd systemd-sysv dbus openssh-server python3 python3-apt sudo
          iproute2 procps supervisor curl)
# shellcheck disable=SC2206
PACKAGES+=(${HADEPLOY_TESTBED_EXTRA_PACKAGES:-})
# Bump when the image preparation below changes, to force a rebuild.
IMAGE_RECIPE=1

KEY=$STATE_DIR/id_ed25519
SSH_CONFIG=$STATE_DIR/ssh_config
HOSTS_DIR=$STATE_DIR/hosts
LOG_DIR=$STATE_DIR/logs
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          -o BatchMode=yes -o ConnectTimeout=3 -o LogLevel=ERROR
          -o IdentitiesOnly=yes)

SKIP=77
STARTED=()   # hosts this invocation is bringing up (undone if it fails)

say()  { printf 'testbed: %s\n' "$*" >&2; }
die()  { say "error: $*"; exit 1; }
skip() { say "SKIP: $*"; exit "$SKIP"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

host_addr() {
    local h=$1
    [[ $h =~ ^en([1-9])$ ]] || die "unknown host '$h' (expected en1..en9)"
    echo "$NET_PREFIX.$((10 + BASH_REMATCH[1]))"
}
veth_name() { echo "hdve-$1"; }   # interface names are limited to 15 chars

# ---------------------------------------------------------------------------
# Preconditions

need_root() {
    [[ $(id -u) -eq 0 ]] || skip "must run as root (needs network namespaces, bridges and systemd-nspawn)"
}

ensure_tools() {
    local missing=() c
    for c in systemd-nspawn debootstrap ip ssh ssh-keygen flock setsid timeout; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 ||
        skip "missing commands (${missing[*]}) and no apt-get to install them"
    say "installing missing tools (${missing[*]}) with apt-get"
    { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
          systemd-container debootstrap iproute2 openssh-client util-linux coreutils
    } >"$STATE_DIR/apt-get.log" 2>&1 ||
        skip "could not install systemd-container/debootstrap/iproute2/openssh-client (see $STATE_DIR/apt-get.log)"
    for c in "${missing[@]}"; do
        command -v "$c" >/dev/null 2>&1 || skip "'$c' still missing after apt-get install"
    done
}

# Cheap probes that fail fast on machines where namespaces or veth pairs are
# not allowed (unprivileged containers, missing kernel modules, ...).
probe_network() {
    local ns="hdprobe$$" ve="hdprb$$"
    if ! ip netns add "$ns" 2>/dev/null; then
        skip "cannot create network namespaces here ('ip netns add' failed)"
    fi
    if ! ip link add "$ve" type veth peer name host0 netns "$ns" 2>/dev/null; then
        ip netns del "$ns" 2>/dev/null || true
        skip "cannot create veth pairs here ('ip link add type veth' failed)"
    fi
    ip link del "$ve" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "hdprb$$br" type bridge 2>/dev/null ||
            skip "cannot create bridges here ('ip link add type bridge' failed)"
        ip link del "hdprb$$br" 2>/dev/null || true
        # Refuse to shadow an existing network of this machine.
        local r
        r=$(ip -4 route show to match "$BRIDGE_ADDR" | grep -v '^default' || true)
        [[ -z $r ]] || skip "$NET_PREFIX.0/24 is already routed on this machine: $r"
    fi
}

# Runs a command (not a boot) in the image: catches machines where nspawn
# cannot set up its namespaces/mounts before we try to boot anything.
probe_nspawn() {
    local out rc=0 cg=()
    mapfile -t cg < <(cgroup_dirs probe)
    out=$(timeout 60 bash -c "$IN_CGROUPS" testbed-probe "${cg[@]}" -- \
              systemd-nspawn -q -D "$IMAGE_DIR" --read-only --register=no --keep-unit \
                  --private-network --resolv-conf=off --timezone=off --link-journal=no \
                  --console=pipe /bin/true </dev/null 2>&1 9>&-) || rc=$?
    remove_cgroups probe
    if ((rc != 0)); then
        say "systemd-nspawn output:"; printf '%s\n' "$out" >&2
        skip "systemd-nspawn cannot run containers on this machine"
    fi
}

# ---------------------------------------------------------------------------
# Base image

# The mirror is this machine's own Debian archive source, so no registry host
# name has to live in the project.
detect_mirror() {
    if [[ -n ${HADEPLOY_TESTBED_MIRROR:-} ]]; then echo "$HADEPLOY_TESTBED_MIRROR"; return; fi
    local codename="" f uri
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true
    local suites=" $SUITE $codename bullseye trixie forky sid stable oldstable testing unstable "
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        uri=$(awk -v suites="$suites" '
            function reset() { types = ""; uri = ""; okSuite = 0; comps = ""; enabled = "" }
            function flush() {
                if (!found && types ~ /(^| )deb( |$)/ && enabled != "no" && okSuite &&
                    comps ~ /(^| )main( |$)/ && uri ~ /^https?:\/\// && uri !~ /security/) {
                    print uri; found = 1
                }
                reset()
            }
            BEGIN { reset() }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key)
                rest = ""; for (i = 2; i <= NF; i++) rest = rest (i > 2 ? " " : "") $i
                if (key == "types") types = rest
                else if (key == "uris") uri = $2
                else if (key == "components") comps = rest
                else if (key == "enabled") enabled = tolower($2)
                else if (key == "suites") for (i = 2; i <= NF; i++) if (index(suites, " " $i " ")) okSuite = 1
            }
            END { flush() }' "$f")
        [[ -n $uri ]] && { shopt -u nullglob; echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        uri=$(sed -e 's/\[[^]]*\]//' "$f" | awk -v suites="$suites" '
            $1 == "deb" && $2 ~ /^https?:\/\// && $2 !~ /security/ && index(suites, " " $3 " ") {
                for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit }
            }')
        [[ -n $uri ]] && { shopt -u nullglob; echo "$uri"; return; }
    done
    shopt -u nullglob
    return 1
}

image_stamp() {
    printf 'recipe=%s\nsuite=%s\narch=%s\npackages=%s\n' "$IMAGE_RECIPE" "$SUITE" \
        "$(dpkg --print-architecture 2>/dev/null || uname -m)" \
        "$(printf '%s\n' "${PACKAGES[@]}" | sort -u | paste -sd, -)"
}
STAMP_REL=etc/hadeploy-testbed-image

image_is_current() {
    [[ -f $IMAGE_DIR/$STAMP_REL ]] && [[ "$(cat "$IMAGE_DIR/$STAMP_REL")" == "$(image_stamp)" ]]
}

build_image() {
    if image_is_current; then
        say "base image $IMAGE_DIR is up to date"
        return 0
    fi
    # Running hosts are overlays on the image: it must not change under them.
    if [[ -d $IMAGE_DIR && -n $(hosts_up) ]]; then
        say "base image is outdated but hosts are up on it ($(hosts_up | paste -sd' ' -)); rebuilt after 'down'"
        return 0
    fi
    local mirror t0 new="$IMAGE_DIR.new" old="$IMAGE_DIR.old"
    mirror=$(detect_mirror) ||
        skip "no Debian mirror found in /etc/apt/sources.list{,.d}; set HADEPLOY_TESTBED_MIRROR"
    t0=$(now)
    say "building base image $IMAGE_DIR ($SUITE, mirror from apt sources: $mirror)"
    rm -rf "$new" "$old"
    mkdir -p "$(dirname "$IMAGE_DIR")" "$DEBOOTSTRAP_CACHE" "$LOG_DIR"
    # debootstrap ignores apt's proxy configuration; pass it on if there is one.
    local http_proxy_apt=""
    http_proxy_apt=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n1) || true
    if ! env ${http_proxy_apt:+http_proxy=$http_proxy_apt} \
         debootstrap --variant=minbase --cache-dir="$DEBOOTSTRAP_CACHE" \
            --include="$(printf '%s\n' "${PACKAGES[@]}" | paste -sd, -)" \
            "$SUITE" "$new" "$mirror" >"$LOG_DIR/debootstrap.log" 2>&1; then
        tail -n 20 "$LOG_DIR/debootstrap.log" >&2
        rm -rf "$new"
        die "debootstrap failed (full log: $LOG_DIR/debootstrap.log)"
    fi
    prepare_image "$new"
    image_stamp >"$new/$STAMP_REL"
    # Swap in the new image in one rename, so a half-built image is never used.
    [[ -d $IMAGE_DIR ]] && mv "$IMAGE_DIR" "$old"
    mv "$new" "$IMAGE_DIR"
    rm -rf "$old"
    say "base image built in $(elapsed "$t0") s ($(du -sh "$IMAGE_DIR" | cut -f1))"
}

# All of this only writes files (systemctl --root works without a running
# systemd), so no chroot or mounts are needed.
prepare_image() {
    local root=$1
    systemctl -q --root="$root" enable ssh.service
    # The distribution's supervisord would start at boot with its own config;
    # the hosts must start with no supervisord running. Disabled, not masked,
    # so a test can still start it on purpose.
    systemctl -q --root="$root" disable supervisor.service
    # Periodic jobs that would take the dpkg lock or burn CPU during tests.
    systemctl -q --root="$root" mask apt-daily.timer apt-daily-upgrade.timer \
        dpkg-db-backup.timer e2scrub_all.timer fstrim.timer

    install -d -m 0700 "$root/root/.ssh"
    install -d -m 0755 "$root/etc/ssh/sshd_config.d"
    cat >"$root/etc/ssh/sshd_config.d/testbed.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
    # No resolver: anything that tries DNS fails at once on loopback instead
    # of sending packets out. Host names come from /etc/hosts.
    rm -f "$root/etc/resolv.conf"
    : >"$root/etc/resolv.conf"
    # Each host gets its own machine-id when it is created.
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    rm -f "$root"/var/cache/apt/archives/*.deb
}

# ---------------------------------------------------------------------------
# Keys, ssh_config

ensure_key() {
    [[ -f $KEY && -f $KEY.pub ]] && return 0
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C hadeploy-testbed -f "$KEY"
}

write_ssh_config() {
    local h tmp="$SSH_CONFIG.tmp"
    {
        for h in "${KNOWN_HOSTS[@]}"; do
            printf 'Host %s\n    HostName %s\n' "$h" "$(host_addr "$h")"
        done
        printf 'Host %s %s.*\n' "${KNOWN_HOSTS[*]}" "$NET_PREFIX"
        printf '    User root\n    IdentityFile %s\n    IdentitiesOnly yes\n' "$KEY"
        # Host keys change on every boot of a fresh copy; never record them.
        printf '    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n'
        printf '    LogLevel ERROR\n    BatchMode yes\n    ConnectTimeout 3\n'
        printf '    ServerAliveInterval 5\n    ServerAliveCountMax 6\n'
    } >"$tmp"
    mv "$tmp" "$SSH_CONFIG"
}

# ---------------------------------------------------------------------------
# Processes

# True if PID is the nspawn we started for HOST. Guards against pid reuse, and
# treats zombies as gone: an exited nspawn whose parent is a PID 1 that reaps
# late (or never) stays a zombie for a while.
nspawn_alive() {
    local host=$1 pid=$2 state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "systemd-nspawn .*-M $host " ||
        return 1
}

host_pid() { cat "$HOSTS_DIR/$1/pid" 2>/dev/null || true; }

pid_running() {   # exists and is not a zombie
    local state
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]]
}

wait_gone() {   # PID HOST TIMEOUT
    local deadline=$((SECONDS + $3))
    while nspawn_alive "$2" "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Processes left in the host's namespace or cgroups once nspawn is gone
# (nspawn killed hard, or lost its pid file): all are the container's.
kill_leftovers() {
    local host=$1 pids="" d p deadline
    if ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$host"; then
        pids+=" $(ip netns pids "$host" 2>/dev/null || true)"
    fi
    while read -r d; do
        [[ -d $d ]] && pids+=" $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    done < <(cgroup_dirs "$host")
    # shellcheck disable=SC2086  # split the collected lists into words
    pids=$(printf '%s\n' $pids | grep -E '^[0-9]+$' | sort -u | paste -sd' ' -) || true
    [[ -z $pids ]] && return 0
    say "$host: killing leftover container processes: $pids"
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    deadline=$((SECONDS + 10))
    for p in $pids; do
        while pid_running "$p" && ((SECONDS < deadline)); do sleep 0.2; done
    done
}

remove_cgroups() {
    local host=$1 d
    while read -r d; do
        [[ -d $d ]] || continue
        # cgroupfs directories go with rmdir only, children first.
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
            say "$host: could not remove cgroup $d"
        rmdir "$(dirname "$d")" 2>/dev/null || true   # parent, once no host uses it
    done < <(cgroup_dirs "$host")
}

# Stop HOST and remove everything that belongs to it. Safe on a host that is
# not up, half up, or whose nspawn already died.
teardown_host() {
    local host=$1 pid dir="$HOSTS_DIR/$1"
    pid=$(host_pid "$host")
    if nspawn_alive "$host" "$pid"; then
        # nspawn turns SIGTERM into an orderly shutdown of the container.
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$host" "$STOP_TIMEOUT"; then
            say "$host: no clean shutdown after ${STOP_TIMEOUT}s, killing nspawn (pid $pid)"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" "$host" 10 || say "$host: nspawn pid $pid did not exit"
        fi
    fi
    kill_leftovers "$host"
    remove_cgroups "$host"
    ip link del "$(veth_name "$host")" 2>/dev/null || true
    ip netns del "$host" 2>/dev/null || true
    ip neigh flush to "$(host_addr "$host")" 2>/dev/null || true
    if [[ -d $dir ]]; then
        # An nspawn that was killed leaves its lock file for the root dir.
        [[ -d $dir/rootfs ]] &&
            rm -f "/run/systemd/nspawn/locks/inode-$(stat -c %d:%i "$dir/rootfs")"
        if mountpoint -q "$dir/rootfs"; then
            umount "$dir/rootfs" 2>/dev/null || umount -l "$dir/rootfs" ||
                die "$host: cannot unmount $dir/rootfs"
        fi
        # --one-file-system: never delete through a mount that is still there.
        case $dir in "$STATE_DIR"/hosts/en?) rm -rf --one-file-system "$dir" ;; esac
    fi
}

# ---------------------------------------------------------------------------
# Network

# Fixed MAC addresses. A bridge without one takes the lowest MAC of its
# ports, so it changes whenever a host comes or goes; hosts that had this
# machine's old MAC in their ARP cache then lose it for up to a minute (ssh
# connects time out). Likewise a re-created host keeps its MAC, so this
# machine's ARP entry for it stays right.
BRIDGE_MAC=02:68:64:00:00:01
host_mac() { printf '02:68:64:00:00:%02x' "${1##*.}"; }   # ADDR

ensure_bridge() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" address "$BRIDGE_MAC" type bridge forward_delay 0 stp_state 0
    fi
    [[ $(cat "/sys/class/net/$BRIDGE/address") == "$BRIDGE_MAC" ]] ||
        ip link set "$BRIDGE" address "$BRIDGE_MAC"
    ip -4 addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_ADDR/" ||
        ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    # Never route the hosts' traffic beyond this machine, whatever the global
    # ip_forward says: IPv4 forwarding is decided on the incoming interface.
    sysctl -q -w "net.ipv4.conf.$BRIDGE.forwarding=0" >/dev/null
    ip link set "$BRIDGE" up
}

remove_bridge_if_unused() {
    ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
    if [[ -z $(ip -o link show master "$BRIDGE" 2>/dev/null) ]]; then
        ip link del "$BRIDGE" 2>/dev/null || true
    fi
}

# The address lives on host0 inside the namespace; nspawn with
# --network-namespace-path joins it as it is, so configuring it from outside
# before boot means nothing in the container has to manage the network.
setup_host_net() {
    local host=$1 addr ve
    addr=$(host_addr "$host"); ve=$(veth_name "$host")
    ip netns add "$host"
    ip link add "$ve" type veth peer name host0 netns "$host"
    ip link set "$ve" master "$BRIDGE"
    ip link set "$ve" up
    ip -n "$host" link set lo up
    ip -n "$host" link set host0 address "$(host_mac "$addr")"
    ip -n "$host" addr add "$addr/24" dev host0
    ip -n "$host" link set host0 up
    # A default route so Ansible facts (ansible_default_ipv4) look like a real
    # host's; packets sent to it stop at this machine (forwarding is off on
    # the bridge).
    ip -n "$host" route add default via "$BRIDGE_ADDR"
}

# ---------------------------------------------------------------------------
# Hosts

# The host's root is an overlay on the image: creating it is instant and
# removing it only deletes what the host wrote, where copying the image and
# deleting the copy costs seconds of disk I/O per host. Falls back to a copy
# where overlayfs cannot be mounted.
prepare_host_root() {
    local host=$1 dir="$HOSTS_DIR/$1" root="$HOSTS_DIR/$1/rootfs" h
    mkdir -p "$dir/upper" "$dir/work" "$root"
    if ! mount -t overlay "testbed-$host" \
            -o "lowerdir=$IMAGE_DIR,upperdir=$dir/upper,workdir=$dir/work" "$root" 2>/dev/null; then
        say "$host: overlayfs not available, copying the image instead"
        rmdir "$root"
        cp -a --reflink=auto "$IMAGE_DIR" "$root"
    fi
    echo "$host" >"$root/etc/hostname"
    {
        printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
        for h in "${KNOWN_HOSTS[@]}"; do printf '%s\t%s\n' "$(host_addr "$h")" "$h"; done
    } >"$root/etc/hosts"
    systemd-id128 new >"$root/etc/machine-id"
    install -m 0600 "$KEY.pub" "$root/root/.ssh/authorized_keys"
}

hosts_up() {   # hosts whose nspawn runs
    local h
    for h in "${KNOWN_HOSTS[@]}"; do
        nspawn_alive "$h" "$(host_pid "$h")" && echo "$h"
    done
    return 0
}

# One cgroup per host, in every hierarchy systemd uses. With --keep-unit,
# nspawn puts the container under the cgroup it was started in ("payload"
# beside its own "supervisor"); two nspawns started from the same cgroup
# would share one "payload" tree, so a unit stopped in en1 would see en2's
# processes in "its" cgroup. Best effort: where cgroupfs is read-only, hosts
# share.
cgroup_dirs() {   # LEAF
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        echo "/sys/fs/cgroup/hadeploy-testbed/$1"
    else
        [[ -d /sys/fs/cgroup/systemd ]] && echo "/sys/fs/cgroup/systemd/hadeploy-testbed/$1"
        [[ -d /sys/fs/cgroup/unified ]] && echo "/sys/fs/cgroup/unified/hadeploy-testbed/$1"
    fi
    return 0
}

# bash -c script: "DIR... -- CMD...": join the cgroups DIR..., then exec CMD
# (so CMD keeps this process's pid).
# shellcheck disable=SC2016  # expanded by that bash, not here
IN_CGROUPS='
    while [[ $1 != -- ]]; do
        { mkdir -p "$1" && echo $$ >"$1/cgroup.procs"; } 2>/dev/null ||
            echo "testbed: warning: could not use cgroup $1" >&2
        shift
    done
    shift
    exec "$@"'

launch_host() {
    local host=$1 root="$HOSTS_DIR/$1/rootfs" log="$LOG_DIR/$1.log" pid cg=()
    mapfile -t cg < <(cgroup_dirs "$host")
    # setsid: the container must not share our session or terminal, or a ^C
    # in the caller's terminal would hit it. --register=no and --keep-unit:
    # there is no systemd/machined on this machine to talk to.
    # --private-network on top of --network-namespace-path: without it nspawn
    # bind-mounts this machine's /sys, and /sys/class/net inside the host
    # lists this machine's interfaces (eth0, hdbr0...) instead of host0,
    # which Ansible's interface facts read.
    # 9>&-: nspawn must not inherit the state lock, or it holds it until down.
    setsid bash -c "$IN_CGROUPS" testbed-launch "${cg[@]}" -- \
        systemd-nspawn -D "$root" -M "$host" -b \
            --register=no --keep-unit \
            --network-namespace-path="/run/netns/$host" --private-network \
            --resolv-conf=off --timezone=off --link-journal=no \
            --console=read-only \
        >"$log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$HOSTS_DIR/$host/pid"
}

ssh_host() { ssh -F "$SSH_CONFIG" "$@"; }

host_answers() { ssh_host -o ConnectTimeout=2 "$1" true </dev/null >/dev/null 2>&1; }

# Waits until HOST answers ssh and systemd has finished booting.
wait_host() {
    local host=$1 pid deadline=$((SECONDS + BOOT_TIMEOUT)) state
    pid=$(host_pid "$host")
    until host_answers "$host"; do
        if ! pid_running "$pid"; then
            say "$host: systemd-nspawn exited during boot; last lines of $LOG_DIR/$host.log:"
            tail -n 30 "$LOG_DIR/$host.log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            say "$host: no ssh after ${BOOT_TIMEOUT}s; last lines of $LOG_DIR/$host.log:"
            tail -n 30 "$LOG_DIR/$host.log" >&2 || true
            return 1
        fi
        sleep 0.3
    done
    state=$(ssh_host "$host" "timeout $((deadline - SECONDS > 5 ? deadline - SECONDS : 5)) systemctl is-system-running --wait" </dev/null 2>/dev/null) || true
    case $state in
        running) ;;
        degraded)
            say "$host: booted degraded; failed units:"
            ssh_host "$host" systemctl --failed --no-legend </dev/null >&2 || true ;;
        *) say "$host: systemd state '$state' after boot"; return 1 ;;
    esac
}

host_is_up() {
    local host=$1
    nspawn_alive "$host" "$(host_pid "$host")" && host_answers "$host"
}

known_state_hosts() {   # hosts with any trace: state dir, namespace or veth
    local h
    for h in "${KNOWN_HOSTS[@]}"; do
        if [[ -e $HOSTS_DIR/$h ]] || ip link show "$(veth_name "$h")" >/dev/null 2>&1 ||
           ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$h"; then
            echo "$h"
        fi
    done
}

# ---------------------------------------------------------------------------
# Commands

lock_state() {
    mkdir -p "$STATE_DIR" "$HOSTS_DIR" "$LOG_DIR"
    exec 9>"$STATE_DIR/lock"
    flock -w 600 9 || die "another testbed.sh holds $STATE_DIR/lock"
}

cmd_image() {
    need_root; lock_state; ensure_tools
    build_image
    probe_nspawn
}

cmd_up() {
    local fresh=0 hosts=() h t0
    while (($#)); do
        case $1 in
            --fresh) fresh=1 ;;
            -*) die "up: unknown option $1" ;;
            *) host_addr "$1" >/dev/null; hosts+=("$1") ;;
        esac
        shift
    done
    ((${#hosts[@]})) || hosts=("${DEFAULT_HOSTS[@]}")
    need_root; lock_state; ensure_tools
    build_image
    probe_network
    ensure_key
    write_ssh_config
    t0=$(now)

    local to_boot=()
    for h in "${hosts[@]}"; do
        if ((!fresh)) && host_is_up "$h"; then
            say "$h: already up"
        else
            teardown_host "$h"   # leftovers of an earlier run, if any
            to_boot+=("$h")
        fi
    done
    if ((${#to_boot[@]})); then
        probe_nspawn
        # Undo a half-done boot on any failure or interruption.
        trap 'say "up did not complete, tearing down ${STARTED[*]:-}"; for h in "${STARTED[@]}"; do teardown_host "$h"; done; remove_bridge_if_unused' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        ensure_bridge
        for h in "${to_boot[@]}"; do
            STARTED+=("$h")
            setup_host_net "$h"
            prepare_host_root "$h"
        done
        # Boot them all first, then wait: boots overlap.
        for h in "${to_boot[@]}"; do launch_host "$h"; done
        for h in "${to_boot[@]}"; do wait_host "$h"; done
        trap - EXIT INT TERM
        say "up: ${to_boot[*]} booted in $(elapsed "$t0") s"
    fi
    for h in "${hosts[@]}"; do
        say "$h: $(host_addr "$h")  ->  ssh -F $SSH_CONFIG $h"
    done
}

cmd_down() {
    local hosts=("$@") h t0
    need_root; lock_state
    t0=$(now)
    ((${#hosts[@]})) || mapfile -t hosts < <(known_state_hosts)
    for h in "${hosts[@]}"; do host_addr "$h" >/dev/null; done
    for h in "${hosts[@]}"; do
        [[ -n $h ]] || continue
        teardown_host "$h"
    done
    remove_bridge_if_unused
    say "down: ${hosts[*]:-nothing was up} (took $(elapsed "$t0") s)"
}

cmd_status() {
    local h pid any=0 net
    for h in "${KNOWN_HOSTS[@]}"; do
        [[ -e $HOSTS_DIR/$h ]] || ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$h" || continue
        any=1
        pid=$(host_pid "$h")
        if nspawn_alive "$h" "$pid"; then
            if host_answers "$h"; then net="ssh ok"; else net="ssh NOT answering"; fi
            printf '%-4s %-12s nspawn pid %-8s %s\n' "$h" "$(host_addr "$h")" "$pid" "$net"
        else
            printf '%-4s %-12s nspawn not running (leftovers: run "testbed.sh down")\n' "$h" "$(host_addr "$h")"
        fi
    done
    ((any)) || echo "no hosts up"
    if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE present"; fi
    if image_is_current; then echo "image $IMAGE_DIR: current"
    elif [[ -d $IMAGE_DIR ]]; then echo "image $IMAGE_DIR: outdated (rebuilt on next up)"
    else echo "image $IMAGE_DIR: not built"; fi
}

cmd_ssh() {
    (($#)) || die "usage: testbed.sh ssh HOST [CMD...]"
    host_addr "$1" >/dev/null
    [[ -f $SSH_CONFIG ]] || die "no $SSH_CONFIG; run 'testbed.sh up' first"
    exec ssh -F "$SSH_CONFIG" "$@"
}

cmd_env() {
    local hosts=() h var
    mapfile -t hosts < <(hosts_up)
    ((${#hosts[@]})) || hosts=("${DEFAULT_HOSTS[@]}")
    printf 'export HADEPLOY_TESTBED_DIR=%q\n' "$STATE_DIR"
    printf 'export HADEPLOY_TESTBED_KEY=%q\n' "$KEY"
    printf 'export HADEPLOY_TESTBED_SSH_CONFIG=%q\n' "$SSH_CONFIG"
    printf 'export HADEPLOY_TESTBED_USER=root\n'
    printf 'export HADEPLOY_TESTBED_HOSTS=%q\n' "${hosts[*]}"
    printf 'export HADEPLOY_TESTBED_BRIDGE_ADDR=%q\n' "$BRIDGE_ADDR"
    printf 'export HADEPLOY_TESTBED_SSH_OPTS=%q\n' "${SSH_OPTS[*]} -i $KEY"
    # Every host's address, up or not: a runner names them before booting.
    for h in "${KNOWN_HOSTS[@]}"; do
        var=HADEPLOY_TESTBED_${h^^}_ADDR
        printf 'export %s=%q\n' "$var" "$(host_addr "$h")"
    done
}

# Makes CMD a "child subreaper": the nspawn processes that 'testbed.sh up'
# leaves running are re-parented to it instead of to PID 1, and bash reaps
# them as soon as 'down' stops them. Where PID 1 reaps orphans late (seconds,
# as on some sandboxes) or never, each stopped nspawn otherwise lingers as a
# zombie.
become_subreaper() {   # re-execs "$@" as a subreaper
    local py
    py=$(command -v python3 || true)
    if [[ -z $py ]]; then say "warning: no python3, cannot become a subreaper"; return 0; fi
    exec "$py" -c '
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.stderr.write("testbed: warning: prctl(PR_SET_CHILD_SUBREAPER) failed\n")
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

RUN_HOSTS="${DEFAULT_HOSTS[*]}"
cmd_run() {
    local rc=0
    while (($#)); do
        case $1 in
            --hosts) RUN_HOSTS=$2; shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    (($#)) || die "usage: testbed.sh run [--hosts \"en1 en2\"] [--] CMD..."
    need_root
    if [[ -z ${HADEPLOY_TESTBED_SUBREAPER:-} ]]; then
        export HADEPLOY_TESTBED_SUBREAPER=1
        become_subreaper bash "$0" run --hosts "$RUN_HOSTS" -- "$@"
    fi
    local self=$0
    # shellcheck disable=SC2086
    trap '"$self" down $RUN_HOSTS || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # shellcheck disable=SC2086
    "$self" up $RUN_HOSTS || exit $?
    eval "$("$self" env)"
    "$@" || rc=$?
    exit "$rc"
}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }

main() {
    local cmd=${1:-}
    (($#)) && shift
    case $cmd in
        image) cmd_image "$@" ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        ssh) cmd_ssh "$@" ;;
        env) cmd_env "$@" ;;
        run) cmd_run "$@" ;;
        subreaper) become_subreaper "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
