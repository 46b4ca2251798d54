#!/usr/bin/env bash
# A single-node SLURM on this machine for testing the workflow's SLURM profile (make test-slurm).
#
#   tools/slurm-local.sh up      install (Debian packages, once), configure, start; ~15 s
#   tools/slurm-local.sh down    stop the daemons
#   tools/slurm-local.sh status  sinfo
#
# Needs root and Debian/Ubuntu packages (slurmctld, slurmd, slurm-client, munge). One node named
# after `hostname -s` with all its CPUs, memory a bit under what is available, and two fake GPUs
# (character devices like /dev/null, so SLURM sets CUDA_VISIBLE_DEVICES per job). No accounting
# daemon: the profile's `slurm-status-command: squeue` needs none. Everything it writes lives in
# /etc/slurm (slurm.conf, gres.conf) and $STATE.
set -euo pipefail

STATE=${ZSTVG_SLURM_STATE:-/var/lib/zstvg-slurm}
CONF=/etc/slurm
HOST=$(hostname -s)

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

configure() {
  mkdir -p "$CONF" "$STATE/ctld" "$STATE/slurmd"
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemAvailable/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  for i in 0 1; do [ -c "$STATE/fakegpu$i" ] || mknod "$STATE/fakegpu$i" c 1 3; done
  cat >"$CONF/slurm.conf" <<CFG
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
AutoDetect=off
NodeName=$HOST Name=gpu File=$STATE/fakegpu0
NodeName=$HOST Name=gpu File=$STATE/fakegpu1
CFG
}

up() {
  need_root
  install
  configure
  mkdir -p /run/munge && chown munge:munge /run/munge
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null;
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
  wait_for 10 munge -n
  pgrep -x slurmctld >/dev/null || slurmctld
  wait_for 20 scontrol ping
  pgrep -x slurmd >/dev/null || slurmd
  wait_for 30 bash -c "sinfo -h -o %T | grep -q idle"
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  echo "slurm-local: up ($(sinfo --version), node $HOST, 2 fake GPUs)"
}

down() {
  need_root
  for f in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
  echo "slurm-local: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) sinfo ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
