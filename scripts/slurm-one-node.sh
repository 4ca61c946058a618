#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine for the tests (`.ci/run` calls it): munged,
# slurmctld and slurmd started directly (no systemd), slurm.conf generated from `slurmd -C`.
# Installs Debian's slurmctld, slurmd, slurm-client and munge when they are missing (needs root).
# Idempotent: a cluster that already answers `sinfo` is left as it is.
#   scripts/slurm-one-node.sh          start (or check) the cluster
#   scripts/slurm-one-node.sh stop     stop its daemons
set -euo pipefail

state=/var/lib/demorl-slurm
conf=/etc/slurm/slurm.conf

stop() {
  for daemon in slurmd slurmctld; do
    pkill -x "$daemon" 2>/dev/null || true
  done
}

if [ "${1:-}" = stop ]; then
  stop
  exit 0
fi

if command -v sinfo >/dev/null 2>&1 && sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  echo "slurm: cluster already up ($(sinfo -h -o '%N %c CPUs %T'))"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm: installing slurmctld, slurmd, slurm-client and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: the key the package made (or a new one), a run folder, the daemon.
mkdir -p /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi

host=$(hostname -s)
# The node as slurmd sees it, without the uptime field slurm.conf does not take.
node=$(slurmd -C | head -n 1)
mkdir -p "$state/ctld" "$state/d" /etc/slurm
cat > "$conf" <<CONF
# One-node test cluster written by scripts/slurm-one-node.sh (demorl-studio's tests).
ClusterName=demorl
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
# No cgroups in a container: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
# Requeued and resubmitted tasks start again soon (tests wait for them).
SchedulerParameters=bf_interval=1
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

stop
sleep 1
/usr/sbin/slurmctld -c   # -c: forget the state of an earlier cluster (its jobs)
/usr/sbin/slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm: cluster up ($(sinfo -h -o '%N %c CPUs %T'))"
    exit 0
  fi
  sleep 1
done
echo "slurm: the node did not come up; logs:" >&2
tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2
exit 1
