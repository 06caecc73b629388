// Found before the CUDA toolkit's own header in the emulator build, to stop it with a clear
// message: the SIMT emulator does not implement what <cuda_fp16.h> provides. A kernel that needs it
// must keep a portable path for the emulator (see docs/kernels.md).
#error "<cuda_fp16.h> is not supported by the SIMT emulator (kernels/emu)"
