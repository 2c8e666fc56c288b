#!/bin/bash
# Shared library of the p2v-target Ganeti OS definition (sourced, not run).
#
# Device handling lives here (attach, partition, mount, cleanup); data
# transformations (instance.json, networkd, hosts, ...) live in instance-facts.
#
# Environment overrides (for tests and unusual installs; Ganeti never sets them):
#   P2V_TARGET_CONFIG   admin config file   (default /etc/default/ganeti-instance-p2v-target)
#   P2V_TARGET_CONFDIR  node config dir     (default /etc/ganeti/instance-p2v-target);
#                       variants/<variant>.conf, hooks/ and authorized_keys live there
#   P2V_TARGET_PART_WAIT  seconds to wait for a partition node (default 10)

# shellcheck disable=SC2034  # used by the scripts that source this file
P2V_OS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P2V_PROG=$(basename "$0")

log() {
  printf '%s: %s\n' "p2v-target $P2V_PROG" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

debug_setup() {
  if [ "${DEBUG_LEVEL:-0}" != "0" ]; then
    set -x
  fi
}

# ---------------------------------------------------------------- cleanup stack
# Each resource registers its release right after it is taken; the EXIT trap
# runs them in reverse order, on success and on failure alike.
P2V_CLEANUP=()

add_cleanup() {
  P2V_CLEANUP+=("$(printf '%q ' "$@")")
}

run_cleanup() {
  local i rc=0
  for ((i = ${#P2V_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${P2V_CLEANUP[i]}" || rc=1
  done
  P2V_CLEANUP=()
  return "$rc"
}

on_exit() {
  local rc=$?
  set +e
  if ! run_cleanup; then
    log "warning: cleanup was incomplete (see messages above); check 'losetup -a' and 'findmnt'"
    [ "$rc" -ne 0 ] || rc=1
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- configuration
load_config() {
  local config=${P2V_TARGET_CONFIG:-/etc/default/ganeti-instance-p2v-target}
  local confdir=${P2V_TARGET_CONFDIR:-/etc/ganeti/instance-p2v-target}
  if [ -f "$config" ]; then
    # shellcheck source=/dev/null
    . "$config"
  fi
  OS_VARIANT=${OS_VARIANT:-default}
  case $OS_VARIANT in
    */* | .* | "") die "invalid OS variant name '$OS_VARIANT'" ;;
  esac
  local variant_conf="$confdir/variants/$OS_VARIANT.conf"
  if [ -f "$variant_conf" ]; then
    # shellcheck source=/dev/null
    . "$variant_conf"
  elif [ "$OS_VARIANT" != default ]; then
    die "unknown OS variant '$OS_VARIANT': $variant_conf does not exist (create it on every node, or use p2v-target+default)"
  fi
  IMAGE_DIR=${IMAGE_DIR:-/var/lib/ganeti-instance-p2v-target}
  ROOTFS_IMAGE=${ROOTFS_IMAGE:-$IMAGE_DIR/p2v-bootstrap-rootfs.tar.zst}
  FILESYSTEM=${FILESYSTEM:-ext4}
  PARTITION_STYLE=${PARTITION_STYLE:-msdos}
  HOOKS_DIR=${HOOKS_DIR:-$confdir/hooks}
  NODE_AUTHORIZED_KEYS=${NODE_AUTHORIZED_KEYS:-$confdir/authorized_keys}
  DNS_SERVERS=${DNS_SERVERS:-}
  case $FILESYSTEM in
    ext2 | ext3 | ext4) ;;
    *) die "FILESYSTEM=$FILESYSTEM is not supported (use ext4, ext3 or ext2) in ${config}" ;;
  esac
  case $PARTITION_STYLE in
    msdos | gpt) ;;
    *) die "PARTITION_STYLE=$PARTITION_STYLE is not supported (use msdos or gpt) in ${config}" ;;
  esac
  export IMAGE_DIR ROOTFS_IMAGE FILESYSTEM PARTITION_STYLE HOOKS_DIR NODE_AUTHORIZED_KEYS DNS_SERVERS OS_VARIANT
}

# Disk N's path from Ganeti's environment (DISK_<n>_PATH).
disk_path() {
  local var="DISK_${1}_PATH"
  local path=${!var:-}
  [ -n "$path" ] || die "$var is not set: disk $1 has no local path (userspace-only disks are not supported by p2v-target)"
  printf '%s\n' "$path"
}

# ---------------------------------------------------------------- devices
# attach_disk PATH: sets BLOCKDEV. A regular file (Ganeti's file template) is
# attached to a free loop device; a block device is used as it is.
attach_disk() {
  local path=$1
  if [ -b "$path" ]; then
    BLOCKDEV=$path
  elif [ -f "$path" ]; then
    BLOCKDEV=$(losetup -f --show "$path") || die "cannot attach $path to a loop device (is the loop module loaded? 'losetup -f' must find a free device)"
    add_cleanup detach_loop "$BLOCKDEV"
  else
    die "disk $path is neither a block device nor a regular file"
  fi
  export BLOCKDEV
}

detach_loop() {
  local dev=$1 i
  # Partitions added with partx (BLKPG) can outlive the loop device; drop them.
  partx -d "$dev" >/dev/null 2>&1 || true
  for i in 1 2 3 4 5; do
    losetup -d "$dev" 2>/dev/null && return 0
    sleep 0.2
  done
  losetup -d "$dev" || {
    log "could not detach $dev: run 'losetup -d $dev'"
    return 1
  }
}

# partition_dev DEV N: the name the kernel gives partition N of DEV.
partition_dev() {
  case $1 in
    *[0-9]) printf '%sp%s\n' "$1" "$2" ;;
    *) printf '%s%s\n' "$1" "$2" ;;
  esac
}

# wait_partition DEV N: sets ROOT_DEV to partition N of DEV.
# udev (or the kernel) may create the node by itself; otherwise partx asks the
# kernel to add it (this kernel may not parse partition tables at all). Devices
# that cannot have partitions (device-mapper, DRBD) get a loop device over the
# partition's byte range instead.
wait_partition() {
  local dev=$1 n=$2 part tries
  part=$(partition_dev "$dev" "$n")
  tries=$((${P2V_TARGET_PART_WAIT:-10} * 5))
  if command -v udevadm >/dev/null 2>&1; then
    udevadm settle --timeout=5 >/dev/null 2>&1 || true
  fi
  while [ ! -b "$part" ]; do
    if ! partx -u --nr "$n" "$dev" >/dev/null 2>&1 && ! partx -a --nr "$n" "$dev" >/dev/null 2>&1; then
      [ -b "$part" ] || break
    fi
    [ -b "$part" ] && break
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || break
    sleep 0.2
  done
  if [ -b "$part" ]; then
    ROOT_DEV=$part
  else
    partition_loop "$dev" "$n"
  fi
  export ROOT_DEV
}

# partition_loop DEV N: ROOT_DEV = a loop device over partition N's sectors.
partition_loop() {
  local dev=$1 n=$2 start sectors
  read -r start sectors < <(partx -g -o START,SECTORS --nr "$n" "$dev" 2>/dev/null) ||
    die "$dev has no partition $n (partx --show $dev)"
  log "no partition node for $dev partition $n: using a loop device over its sectors"
  ROOT_DEV=$(losetup -f --show -o "$((start * 512))" --sizelimit "$((sectors * 512))" "$dev") ||
    die "cannot attach partition $n of $dev to a loop device"
  add_cleanup detach_loop "$ROOT_DEV"
}

# mount_root DEV: mounts DEV on a fresh temporary directory, sets TARGET.
mount_root() {
  local dev=$1
  TARGET=$(mktemp -d "${TMPDIR:-/tmp}/p2v-target.XXXXXX")
  add_cleanup rmdir "$TARGET"
  mount "$dev" "$TARGET" || die "cannot mount $dev on $TARGET"
  add_cleanup unmount_root "$TARGET"
  export TARGET
}

unmount_root() {
  local dir=$1 i
  sync -f "$dir" 2>/dev/null || true
  for i in 1 2 3 4 5; do
    umount "$dir" 2>/dev/null && return 0
    sleep 0.5
  done
  umount "$dir" || {
    log "could not unmount $dir (a process still uses it? see 'fuser -vm $dir'), then 'umount $dir'"
    return 1
  }
}

# open_bootstrap_root: attach disk 0 and mount partition 1 of an existing
# bootstrap disk (rename). Returns 1 (nothing mounted) when partition 1 is not
# the bootstrap filesystem any more (e.g. the instance has been migrated).
open_bootstrap_root() {
  attach_disk "$(disk_path 0)"
  wait_partition "$BLOCKDEV" 1
  local label
  label=$(blkid -p -o value -s LABEL "$ROOT_DEV" 2>/dev/null || true)
  [ "$label" = p2v-bootstrap ] || return 1
  mount_root "$ROOT_DEV"
}

# ---------------------------------------------------------------- keys
# check_ssh_key LINE: one OpenSSH public key line of a known type.
check_ssh_key() {
  local key=$1 tmp
  case $key in
    *$'\n'* | *$'\r'*) echo "ssh_key must be a single line (one OpenSSH public key)"; return 1 ;;
  esac
  case ${key%% *} in
    ssh-ed25519 | ssh-rsa | ecdsa-sha2-nistp256 | ecdsa-sha2-nistp384 | ecdsa-sha2-nistp521 | \
      sk-ssh-ed25519@openssh.com | sk-ecdsa-sha2-nistp256@openssh.com) ;;
    *)
      echo "ssh_key must start with a key type such as ssh-ed25519 (got '${key%% *}'); pass the contents of a .pub file, e.g. -O ssh_key=\"\$(cat ~/.ssh/id_ed25519.pub)\""
      return 1
      ;;
  esac
  tmp=$(mktemp "${TMPDIR:-/tmp}/p2v-key.XXXXXX")
  printf '%s\n' "$key" >"$tmp"
  if ! ssh-keygen -l -f "$tmp" >/dev/null 2>&1; then
    rm -f "$tmp"
    echo "ssh_key is not a valid OpenSSH public key (ssh-keygen -l rejects it)"
    return 1
  fi
  rm -f "$tmp"
}

# ---------------------------------------------------------------- host key (secret)
# The OS parameter ssh_host_key is the bootstrap's SSH host key, made by p2v
# and passed as a secret (osparams_secret): Ganeti never stores it and gives
# it to create and verify only, as OSP_SSH_HOST_KEY. A plain -O value reaches
# the scripts in the very same variable, so they cannot refuse it: the admin
# docs (README, parameters.list) say it must be secret. The value never goes
# into a message, a trace (set -x), an argument list or a child's environment.

# take_host_key: moves OSP_SSH_HOST_KEY into HOST_KEY_FILE, a 0600 file in a
# private temporary directory removed on exit, and unsets it (instance-facts
# and the site hooks never see it). HOST_KEY_FILE is "" without the parameter.
take_host_key() {
  local xtrace=${-//[!x]/} dir
  { set +x; } 2>/dev/null
  HOST_KEY_FILE=
  if [ -n "${OSP_SSH_HOST_KEY:-}" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/p2v-hostkey.XXXXXX") || die "cannot make a private temporary directory in ${TMPDIR:-/tmp}"
    add_cleanup rm -rf "$dir"
    HOST_KEY_FILE=$dir/ssh_host_ed25519_key
    # printf is a builtin: the value is in no command line (/proc/PID/cmdline).
    (umask 077 && printf '%s\n' "${OSP_SSH_HOST_KEY%$'\n'}" >"$HOST_KEY_FILE") ||
      die "cannot write the host key to a temporary file in ${TMPDIR:-/tmp}"
  fi
  unset OSP_SSH_HOST_KEY
  [ -z "$xtrace" ] || set -x
}

# check_host_key FILE: one problem line on stdout (never the key) and status 1
# unless FILE holds one unencrypted OpenSSH ed25519 private key and nothing else.
check_host_key() {
  local file=$1 problem pub
  if ! problem=$("$P2V_OS_DIR/instance-facts" check-host-key "$file" 2>/dev/null); then
    echo "ssh_host_key ${problem:-could not be checked (instance-facts check-host-key failed)}"
    return 1
  fi
  # -P '': an encrypted key fails instead of asking for a passphrase.
  if ! pub=$(ssh-keygen -y -P '' -f "$file" 2>/dev/null </dev/null); then
    echo "ssh_host_key is not a private key ssh-keygen can load (ssh-keygen -y -f KEY fails)"
    return 1
  fi
  case $pub in
    "ssh-ed25519 "*) ;;
    *) echo "ssh_host_key is not an ed25519 key (ssh-keygen -y -f KEY says ${pub%% *})"; return 1 ;;
  esac
}

# node_key_count: number of key lines in the node's authorized_keys file.
node_key_count() {
  if [ -r "$NODE_AUTHORIZED_KEYS" ]; then
    grep -c -v -E '^[[:space:]]*(#|$)' "$NODE_AUTHORIZED_KEYS" || true
  else
    echo 0
  fi
}
