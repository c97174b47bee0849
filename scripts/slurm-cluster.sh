#!/usr/bin/env bash
# A private one-node Slurm (22.05, Debian 12) for tests: its own munged, slurmctld and slurmd, all
# state under one folder, no systemd. Source it, then `slurm_start DIR` ... `slurm_stop DIR`.
# Exports SLURM_CONF so sbatch/squeue/scancel in this shell talk to it.

slurm_install() {
  if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge >/dev/null
  fi
}

slurm_start() {
  local dir=$1 host cpus
  # slurmd finds its node by the short host name; `hostname` may be missing on minimal images.
  host=$(hostname -s 2>/dev/null || cut -d. -f1 /proc/sys/kernel/hostname)
  # Task slots: at least 4 so a 4-task array runs at once on 2 cores (config_overrides allows it).
  cpus=$(nproc)
  if [ "$cpus" -lt 4 ]; then cpus=4; fi
  mkdir -p "$dir"/munge "$dir"/state "$dir"/spool "$dir"/log
  # munged's socket directory must be traversable by every user; the path must stay < 108 chars.
  chmod 755 "$dir" "$dir/munge"
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/seed" || return 1
  cat >"$dir/slurm.conf" <<CONF
ClusterName=ablatetest
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -c || return 1
  slurmd || return 1
  local i
  for i in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
      return 0
    fi
    sleep 0.5
  done
  echo "slurm did not come up; logs:" >&2
  tail -n 20 "$dir"/log/*.log "$dir/munge/munged.log" >&2 || true
  return 1
}

# Stops the daemons by their pid files and waits until they are gone (not just zombies).
slurm_stop() {
  local dir=$1 pidfile pid i
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for i in $(seq 1 50); do
      case "$(ps -o stat= -p "$pid" 2>/dev/null)" in
        "" | Z*) break ;;
      esac
      sleep 0.1
    done
  done
}

# Waits until none of the given job ids is in the queue (squeue, not `sbatch --wait`: that polls slowly).
slurm_wait() {
  local deadline=$((SECONDS + ${SLURM_WAIT_SECONDS:-600}))
  while [ -n "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ]; do
    if [ $SECONDS -gt $deadline ]; then
      echo "jobs $* still queued after ${SLURM_WAIT_SECONDS:-600}s" >&2
      squeue >&2
      return 1
    fi
    sleep 0.5
  done
}
