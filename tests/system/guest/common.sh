# Sourced by the guest's helper scripts.

# sysfs_dev 'GLOB' ATTR VALUE: /dev/<name> of the first sysfs entry matching GLOB whose ATTR
# file holds VALUE (e.g. a video4linux node by its name, a media device by its model).
sysfs_dev() {
  for d in $1; do
    [ -e "$d/$2" ] || continue
    [ "$(cat "$d/$2")" = "$3" ] && { echo "/dev/$(basename "$d")"; return 0; }
  done
  return 1
}
