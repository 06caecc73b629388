// Per-op timing for finding where a model spends its time: with LDM_PROFILE=1 in the
// environment, run_op times every kernel call and a table (op, pass, calls, total ms, share)
// is printed to stderr at exit. Off by default: one relaxed branch per op call.
#pragma once

#include "core/dispatch.h"

namespace ldm {

bool op_profiling_enabled();
void record_op_time(OpKind op, Pass pass, double seconds);

}  // namespace ldm
