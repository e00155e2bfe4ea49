# Sourced by the GPU job scripts: checks $OUT, has torch count GPUs through NVML (single-process specs then fork
# from one server that did the imports once, benchmarks/launch.py), and starts $OUT/job.log with the GPU's name,
# memory, driver and power limit, or with the device a CPU rehearsal (PEFTPLAN_JOB_DEVICE=cpu) uses.
: "${OUT:?set OUT to the folder for rows and logs}"
export PYTORCH_NVML_BASED_CUDA_CHECK=${PYTORCH_NVML_BASED_CUDA_CHECK:-1}
if [ "${PEFTPLAN_JOB_DEVICE:-cuda}" = "cuda" ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit --format=csv >"$OUT/job.log" 2>&1
else
  echo "device: ${PEFTPLAN_JOB_DEVICE} (tiny shapes, no measurement of the suite)" >"$OUT/job.log"
fi
