// A kernel source that needs tensor-core mma: the emulator build must refuse it with a clear
// message (ctest emu_unsupported compiles this file and expects that message). Not part of any
// target: the .cc extension keeps it out of the test globs.
#include <mma.h>

#include "kernels/cuda/dialect.h"
