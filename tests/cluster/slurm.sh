#!/usr/bin/env bash
# A real single-node Slurm on loopback, for the cluster tests: munged, slurmctld, slurmd and slurmrestd
# (JWT), all state under one private folder, a node that pretends to have two GPUs so `--gres=gpu:1`
# schedules. Started by hand (no systemd) and stopped by the PIDs it started.
#
#   slurm.sh up DIR [REST_PORT]   start; prints SLURM_CONF=…, SLURM_REST=…, SLURM_TOKEN=… on stdout
#   slurm.sh down DIR             stop every daemon it started (by PID) and remove nothing else
#
# Needs root and the Debian packages slurmctld slurmd slurm-client munge slurmrestd slurm-wlm-jwt-plugin.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|down DIR [REST_PORT]" >&2; exit 2; }

stop_pid() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

if [ "$cmd" = down ]; then
  # slurmd before slurmctld, munged last (the others authenticate through it).
  for name in slurmrestd slurmd slurmctld munged; do stop_pid "$dir/$name.pid"; done
  exit 0
fi
[ "$cmd" = up ] || { echo "usage: $0 up|down DIR [REST_PORT]" >&2; exit 2; }

for tool in slurmctld slurmd sbatch scontrol munged slurmrestd; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "error: $tool is missing (apt-get install slurmctld slurmd slurm-client munge slurmrestd slurm-wlm-jwt-plugin)" >&2
    exit 3
  }
done
[ "$(id -u)" = 0 ] || { echo "error: the test Slurm runs its daemons as root" >&2; exit 3; }

rest_port=${3:-6820}
mkdir -p "$dir"/{state,spool,log,munge,dev}
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
conf="$dir/slurm.conf"

# munge: a private socket and key so several test clusters never share a daemon.
chown munge:munge "$dir/munge" 2>/dev/null || true
chmod 700 "$dir/munge"
if [ ! -f "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
fi
socket="$dir/munge/munge.socket"
runuser -u munge -- /usr/sbin/munged --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" --force
for _ in $(seq 1 50); do [ -f "$dir/munge/munged.pid" ] && break; sleep 0.1; done
cp "$dir/munge/munged.pid" "$dir/munged.pid"

# Two fake GPUs: one character device per GPU (nothing opens them).
for i in 0 1; do [ -e "$dir/dev/nvidia$i" ] || mknod "$dir/dev/nvidia$i" c 195 "$i"; done
cat > "$dir/gres.conf" <<EOF
AutoDetect=off
Name=gpu File=$dir/dev/nvidia0
Name=gpu File=$dir/dev/nvidia1
EOF

dd if=/dev/urandom of="$dir/jwt.key" bs=32 count=1 status=none
chmod 600 "$dir/jwt.key"

node=$(slurmd -C | head -1 | sed -e 's/ *$//')
cat > "$conf" <<EOF
ClusterName=pipewright-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$dir/jwt.key
SlurmctldPort=$((rest_port + 1))
SlurmdPort=$((rest_port + 2))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
GresTypes=gpu
$node NodeAddr=127.0.0.1 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

export SLURM_CONF="$conf"
slurmctld -f "$conf"
slurmd -f "$conf" -N "$host"
for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || { echo "error: slurmctld did not come up; see $dir/log/slurmctld.log" >&2; exit 4; }
state=""
for _ in $(seq 1 100); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1)
  case "$state" in
    idle) break ;;
    drain*|down*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
[ "$state" = idle ] || { echo "error: the node is '$state', not idle; see $dir/log/slurmd.log" >&2; exit 4; }

# slurmrestd with JWT on loopback; a token for root.
SLURM_JWT=daemon SLURMRESTD_SECURITY=disable_user_check \
  setsid slurmrestd -f "$conf" -a rest_auth/jwt -s openapi/v0.0.38 "127.0.0.1:$rest_port" \
  > "$dir/log/slurmrestd.log" 2>&1 < /dev/null &
echo $! > "$dir/slurmrestd.pid"
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rest_port") 2>/dev/null && break; sleep 0.1; done
token=$(scontrol token username=root lifespan=7200 | sed -n 's/^SLURM_JWT=//p')

echo "SLURM_CONF=$conf"
echo "SLURM_REST=http://127.0.0.1:$rest_port"
echo "SLURM_TOKEN=$token"
