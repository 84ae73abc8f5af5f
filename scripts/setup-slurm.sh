#!/usr/bin/env bash
# Installs Debian's Slurm (slurmctld, slurmd, its client commands) and munge for the test of
# `saex batch --shard` as a Slurm job array (python/tests/test_slurm.py), which starts its
# own one-node cluster on 127.0.0.1 from a configuration in a temporary folder: nothing here is
# configured or started. Idempotent; exits 1 where the packages cannot be installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/apt-install.sh setup-slurm.sh "Slurm and munge (apt-get install slurmctld slurmd \
slurm-client munge)" slurmctld slurmd slurm-client munge
