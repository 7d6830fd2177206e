# What Cloud Run functions (2nd gen) accept as an instance's size, as flags the preconditions of
# main.tf check, so a size Google would refuse fails the plan instead of the deploy. The same rules
# are a table in tests/infra/test_function_sizing.py, with the Google pages they come from; that
# test also evaluates these locals with terraform for every function of topology.json.

locals {
  cpu        = tonumber(var.available_cpu)
  memory_mib = tonumber(regex("^[0-9]+", var.available_memory)) * lookup({ Mi = 1, Gi = 1024, M = 1000000 / 1048576, G = 1000000000 / 1048576 }, regex("[A-Za-z]+$", var.available_memory), 0)

  # Whole vCPUs (values above 1 must be integers, at most 8): the memory an instance may have (MiB).
  whole_cpu_memory_mib = {
    "1" = { min = 512, max = 4096 }
    "2" = { min = 512, max = 8192 }
    "4" = { min = 2048, max = 16384 }
    "6" = { min = 4096, max = 24576 }
    "8" = { min = 4096, max = 32768 }
  }
  whole_cpu_ok = try(
    local.memory_mib >= local.whole_cpu_memory_mib[tostring(local.cpu)].min && local.memory_mib <= local.whole_cpu_memory_mib[tostring(local.cpu)].max,
    false,
  )

  # A fraction of a vCPU (0.08 up to 1): at most 1 GiB, and each memory size needs a minimum vCPU
  # (128 MiB: 0.083, 256 MiB: 0.167, 512 MiB: 0.333, 1 GiB: 0.583).
  fractional_cpu_ok = (
    local.cpu >= 0.08 && local.memory_mib <= 1024
    && local.cpu >= (local.memory_mib <= 128 ? 0.083 : local.memory_mib <= 256 ? 0.167 : local.memory_mib <= 512 ? 0.333 : 0.583)
  )

  cpu_memory_ok = local.cpu < 1 ? local.fractional_cpu_ok : local.whole_cpu_ok

  # More than one request at a time only with at least 1 vCPU; at most 1,000.
  concurrency_ok = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 1000 && (var.max_instance_request_concurrency == 1 || local.cpu >= 1)

  # Cloud Run functions require a maximum; the minimum kept warm never above it.
  instances_ok = var.max_instance_count >= 1 && var.min_instance_count <= var.max_instance_count
}
