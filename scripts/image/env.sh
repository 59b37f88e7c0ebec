# Sourced by the image scripts (and usable in a shell): one image store and one set of
# container settings for buildah and podman, kept in the project's cache rather than
# /var/lib/containers. `sro_containers_env` writes them (once) and exports
#   SRO_CONTAINERS_DIR  CONTAINERS_STORAGE_CONF  CONTAINERS_CONF
# runc, not crun (crun fails on this host's hybrid cgroups), and ulimits within the
# hard limits (podman cannot raise them without CAP_SYS_RESOURCE).
sro_containers_env() {
  local root="${SRO_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-rotation-operator}/containers"
  mkdir -p "$root/storage" "$root/run"
  local hard nproc; hard="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
  [[ "$hard" == unlimited || "$hard" -gt 1048576 ]] && hard=1048576
  [[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$root/storage" "$root/run" >"$root/storage.conf.tmp"
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' "$hard" "$hard" "$nproc" "$nproc" >"$root/containers.conf.tmp"
  mv -f "$root/storage.conf.tmp" "$root/storage.conf"
  mv -f "$root/containers.conf.tmp" "$root/containers.conf"
  export SRO_CONTAINERS_DIR="$root"
  export CONTAINERS_STORAGE_CONF="$root/storage.conf"
  export CONTAINERS_CONF="$root/containers.conf"
}
