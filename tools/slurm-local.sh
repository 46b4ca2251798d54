#!/usr/bin/env bash
# A single-node SLURM on this machine for testing the workflow's SLURM profile (make test-slurm).
#
#   tools/slurm-local.sh up      install (Debian packages, once), configure, start; ~15 s
#   tools/slurm-local.sh down    stop what `up` started, remove what it created
#   tools/slurm-local.sh status  sinfo
#
# Needs root and Debian/Ubuntu packages (slurmctld, slurmd, slurm-client, munge). One node named
# after `hostname -s` with all its CPUs, memory a bit under what is available, and two fake GPUs
# (character devices like /dev/null in $STATE, so SLURM sets CUDA_VISIBLE_DEVICES per job). No
# accounting daemon: the profile's `slurm-status-command: squeue` needs none.
#
# `up` writes /etc/slurm/slurm.conf and gres.conf (marked as its own; it refuses to replace a
# file it did not write), the munge key and /run/munge when missing, and $STATE; it records each
# daemon it starts (pid) and each path it creates in $STATE. `down` stops only those daemons (a
# munged, slurmctld or slurmd running before `up` is left alone) and removes only those paths,
# $STATE last. The packages stay installed.
set -euo pipefail

STATE=${ZSTVG_SLURM_STATE:-/var/lib/zstvg-slurm}
CONF=/etc/slurm
HOST=$(hostname -s)
MARK="# written by tools/slurm-local.sh up; removed by its down"
CREATED=$STATE/created  # what `up` made, one "file|dir PATH" a line, removed in reverse order
PIDS=$STATE/pids        # <daemon>: the pid of each daemon `up` started

need_root() { [ "$(id -u)" = 0 ] || { echo "slurm-local: run as root" >&2; exit 1; }; }

wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local limit=$1; shift
  for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "slurm-local: timed out waiting for: $*" >&2; return 1
}

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    && command -v sbatch >/dev/null && return 0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

created() { echo "$1 $2" >>"$CREATED"; }  # created file|dir PATH

make_dir() {  # make_dir PATH: mkdir -p, recording each folder it makes
  local missing=() d=$1
  while [ ! -e "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir "$d" && created dir "$d"; done
}

own_file() {  # own_file PATH: PATH may be (re)written: missing, or written by an earlier `up`
  if [ ! -e "$1" ] || head -n 1 "$1" | grep -qxF "$MARK"; then created file "$1"; return 0; fi
  echo "slurm-local: $1 exists and was not written by this script; not replacing it" >&2
  return 1
}

configure() {
  if [ ! -d "$STATE" ]; then  # $STATE is made first: it holds the record of the rest
    mkdir -p "$STATE" && echo "dir $STATE" >"$CREATED"
  fi
  if [ ! -f "$CREATED" ]; then
    echo "slurm-local: $STATE exists without $CREATED (not made by up): remove it or set" \
      "ZSTVG_SLURM_STATE" >&2
    exit 1
  fi
  mkdir -p "$PIDS" "$STATE/ctld" "$STATE/slurmd"
  make_dir "$CONF"
  own_file "$CONF/slurm.conf"
  own_file "$CONF/gres.conf"
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemAvailable/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  for i in 0 1; do [ -c "$STATE/fakegpu$i" ] || mknod "$STATE/fakegpu$i" c 1 3; done
  cat >"$CONF/slurm.conf" <<CFG
$MARK
ClusterName=zstvg-local
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
GresTypes=gpu
NodeName=$HOST CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CFG
  cat >"$CONF/gres.conf" <<CFG
$MARK
AutoDetect=off
NodeName=$HOST Name=gpu File=$STATE/fakegpu0
NodeName=$HOST Name=gpu File=$STATE/fakegpu1
CFG
}

start() {  # start NAME PIDFILE CMD...: run CMD unless NAME runs; record the pid of ours
  local name=$1 pidfile=$2; shift 2
  pgrep -x "$name" >/dev/null && return 0
  rm -f "$pidfile"  # a stale one would name another process
  "$@"
  wait_for 10 test -s "$pidfile"
  cp "$pidfile" "$PIDS/$name"
}

up() {
  need_root
  install
  configure
  make_dir /run/munge
  chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    created file /etc/munge/munge.key
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  start munged /run/munge/munged.pid \
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  wait_for 10 munge -n
  start slurmctld "$STATE/slurmctld.pid" slurmctld
  wait_for 20 scontrol ping
  start slurmd "$STATE/slurmd.pid" slurmd
  wait_for 30 bash -c "sinfo -h -o %T | grep -q idle"
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  echo "slurm-local: up ($(sinfo --version), node $HOST, 2 fake GPUs)"
}

runs() {  # runs PID NAME: PID is a live process (not a zombie) named NAME
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] \
    && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

stop() {  # stop NAME: end the daemon `up` started, if that pid still runs NAME
  local pid
  [ -s "$PIDS/$1" ] || return 0
  pid=$(cat "$PIDS/$1")
  if runs "$pid" "$1"; then
    kill "$pid"
    # slurmctld saves its state on SIGTERM: up to 10 s before SIGKILL
    for _ in $(seq 50); do runs "$pid" "$1" || break; sleep 0.2; done
    if runs "$pid" "$1"; then kill -KILL "$pid"; fi
  fi
  rm -f "$PIDS/$1"
}

down() {
  need_root
  [ -f "$CREATED" ] || { echo "slurm-local: nothing to do ($CREATED missing)"; return 0; }
  stop slurmd
  stop slurmctld
  stop munged
  local kind path
  tac "$CREATED" | while read -r kind path; do
    case "$kind" in
      file) rm -f -- "$path" ;;
      dir) [ "$path" = "$STATE" ] || [ ! -d "$path" ] || rm -rf -- "$path" ;;
    esac
  done
  # $STATE last (configure recorded it first): the record above, the daemons' state and logs,
  # the fake GPU nodes
  rm -rf -- "$STATE"
  echo "slurm-local: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) sinfo ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
