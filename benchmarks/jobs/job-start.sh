# Sourced by the GPU job scripts: checks $OUT, has torch count GPUs through NVML (single-process specs then fork
# from one server that did the imports once, benchmarks/launch.py), and starts $OUT/job.log with the GPU's name,
# memory, driver and power limit, or with the device a CPU rehearsal (PEFTPLAN_JOB_DEVICE=cpu) uses.
# `part SUITE SECONDS NAME=EST_S ...` runs those entries of a suite within SECONDS (benchmarks/jobs/budgeted.py),
# its rows in $OUT/SUITE-KIND.jsonl, its lines in the log. The log ends with the job's time, however it ends.
: "${OUT:?set OUT to the folder for rows and logs}"
export PYTORCH_NVML_BASED_CUDA_CHECK=${PYTORCH_NVML_BASED_CUDA_CHECK:-1}
if [ "${PEFTPLAN_JOB_DEVICE:-cuda}" = "cuda" ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit --format=csv >"$OUT/job.log" 2>&1
else
  echo "device: ${PEFTPLAN_JOB_DEVICE} (tiny shapes, no measurement of the suite)" >"$OUT/job.log"
fi
trap 'echo "exit after $SECONDS s" >>"$OUT/job.log"' EXIT
part() {  # suite, seconds of the budget, NAME=EST_S ...
  local suite=$1 seconds=$2
  shift 2
  python3 -m benchmarks.jobs.budgeted "$suite" "$OUT" "$seconds" "$@" >>"$OUT/job.log" 2>&1
  echo "$suite: exit $? after $SECONDS s" >>"$OUT/job.log"
}
